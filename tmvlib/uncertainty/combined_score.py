"""The combined trust score: a logistic regression that predicts an error from several per-image
scores (e.g. the decision uncertainty and TTA explanation instability), fitted on the validation
images and applied unchanged to test and external images, like any other score.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from ..metrics.frames import error_indicator, require_both_outcomes, require_columns, score_array


@dataclass(frozen=True)
class CombinedScore:
    """A fitted error predictor: ``score(frame)`` is P(error) from ``features``.

    ``coefficients`` are per standardised feature (per validation standard deviation), so their
    sizes compare; ``n_images`` and ``n_errors`` describe the validation fit.
    """

    features: tuple[str, ...]
    model: Pipeline
    n_images: int
    n_errors: int

    def score(self, frame: pd.DataFrame) -> np.ndarray:
        """(N,) float64 predicted probability of an error for each row of ``frame``."""
        return self.model.predict_proba(_feature_matrix(frame, self.features))[:, 1]

    @property
    def coefficients(self) -> pd.Series:
        """Logistic-regression coefficients per standardised feature, plus ``intercept``."""
        lr = self.model[-1]
        return pd.Series([*lr.coef_[0], lr.intercept_[0]], index=[*self.features, "intercept"])


def _feature_matrix(frame: pd.DataFrame, features: Sequence[str]) -> np.ndarray:
    require_columns(frame, list(features), "the combined score")
    return np.column_stack([score_array(frame, f, f) for f in features])


def fit_combined_score(val_frame: pd.DataFrame, features: Sequence[str],
                       C: float = 1.0) -> CombinedScore:
    """Fit P(error | features) on validation data.

    A logistic regression (scikit-learn, lbfgs, ``random_state=0``) on features standardised
    with the validation mean and standard deviation. ``C = 1`` is scikit-learn's default L2
    strength, kept fixed rather than tuned: with a handful of features it barely shrinks, and it
    keeps the coefficients finite when validation errors are perfectly separable. Fit on
    validation, evaluate on test (``error_detection_table(test, {"combined": fit.score(test)})``).

    Raises:
        ValueError: validation has no error or only errors (named with the count), non-finite
            features or no feature.
    """
    if not features:
        raise ValueError("fit_combined_score needs at least one feature")
    errors = error_indicator(val_frame)
    require_both_outcomes(errors, "fit_combined_score (validation)")
    model = make_pipeline(StandardScaler(),
                          LogisticRegression(C=C, random_state=0, max_iter=1000))
    model.fit(_feature_matrix(val_frame, features), errors)
    return CombinedScore(tuple(features), model, len(val_frame), int(errors.sum()))
