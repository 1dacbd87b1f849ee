"""Chapter 02's shortcut control, cross-fitted: every fold's two models (trained against No
Finding only and against every other image, :mod:`tmvlib.tables.shortcut_control`) score the
``all`` task's images of their own test fold (:func:`tmvlib.data.contrast.fold_evaluation_sets`),
each model at the threshold fitted on its own calibration fold. The folds pool into one
evaluation set, every image scored by the two models of its fold, so the control's family rests
on every folded patient instead of the deployed model's test fold.

As in :mod:`tmvlib.tables.cross_fit`, each model's probabilities are moved so that its threshold
sits at 0.5 (:func:`tmvlib.metrics.confidence.threshold_aligned`): the pooled AUROCs rank every
image around its own models' decisions, and "called positive" is ``>= 0.5``, each image at its
own model's threshold.
"""
from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from .cross_fit import out_of_fold
from .shortcut_control import shortcut_estimates

__all__ = ["fold_shortcut_estimates", "pooled_shortcut_evaluation"]

#: the columns every pooled evaluation row keeps beside the models' probabilities
EVALUATION_COLUMNS = ["fold", "image_id", "patient_id", "label", "negative"]


def pooled_shortcut_evaluation(scored: Mapping[str, pd.DataFrame],
                               thresholds: Mapping[str, pd.Series]) -> tuple[pd.DataFrame, dict[str, str]]:
    """The pooled evaluation set of the cross-fitted shortcut control.

    Args:
        scored: negative rule -> that rule's fold models' rows on their own fold's evaluation
            images (:func:`tmvlib.orchestration.score_fold_roles` with role ``"test"``; columns
            ``fold, role, image_id, patient_id, label, negative, prob``).
        thresholds: negative rule -> ``fold -> threshold`` of that rule's fold models, each
            fitted on its calibration fold (:func:`tmvlib.tables.fitted.calibration_fold_thresholds`).
    Returns:
        ``(rows, probs)``: one row per evaluation image with :data:`EVALUATION_COLUMNS` and a
        threshold-aligned probability column per rule, and ``rule -> column`` (as
        :func:`tmvlib.tables.shortcut_control.shortcut_comparisons` reads them; decide at 0.5).
    Raises:
        ValueError: an image scored by one rule's fold models and not the other's, or by two
            folds (:func:`tmvlib.tables.cross_fit.out_of_fold`).
    """
    probs, pooled = {}, None
    for rule, rows in scored.items():
        column = probs[rule] = f"prob ({rule})"
        part = out_of_fold(rows, thresholds[rule])[EVALUATION_COLUMNS + ["aligned_prob"]]
        part = part.rename(columns={"aligned_prob": column})
        pooled = part if pooled is None else pooled.merge(part, on=EVALUATION_COLUMNS, how="outer",
                                                          validate="one_to_one")
    unscored = pooled[list(probs.values())].isna().any(axis=1)
    if unscored.any():
        raise ValueError(f"the cross-fitted shortcut control: {int(unscored.sum())} image(s) scored by one model "
                         f"of their fold only, e.g. {pooled.loc[unscored, 'image_id'].head(3).tolist()}")
    return pooled.sort_values(["fold", "image_id"], kind="stable").reset_index(drop=True), probs


def fold_shortcut_estimates(pooled: pd.DataFrame, probs: Mapping[str, str]) -> pd.DataFrame:
    """Each fold's point estimate of every shortcut-control comparison on its own evaluation
    images (:func:`tmvlib.tables.shortcut_control.shortcut_estimates`, threshold-aligned
    probabilities decided at 0.5): the spread between fold models that the pooled interval,
    resampling patients with the models held fixed, does not see.

    Returns:
        float frame ``comparison`` x ``fold f``.
    """
    return pd.DataFrame({f"fold {fold}": shortcut_estimates(rows, probs, dict.fromkeys(probs, 0.5))
                         for fold, rows in pooled.groupby("fold")})
