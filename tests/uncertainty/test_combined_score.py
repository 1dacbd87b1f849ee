"""The combined trust score (tmvlib.uncertainty.combined_score), fitted on validation only."""
from __future__ import annotations

import numpy as np
import pytest

from tmvlib.tables.error_detection import error_detection_table
from tmvlib.uncertainty.combined_score import fit_combined_score

from tmv_testing import error_score_frame


def test_combined_score_fits_on_validation_and_scores_test():
    val, test = error_score_frame(seed=1), error_score_frame(seed=2)
    fit = fit_combined_score(val, ["informative", "instability"])
    scores = fit.score(test)
    assert scores.shape == (len(test),) and ((scores >= 0) & (scores <= 1)).all()
    table = error_detection_table(test.assign(combined=scores),
                                  {"informative": "informative", "combined": "combined"},
                                  n_boot=50).set_index("score")
    # two independent noisy signals combine into a better detector than either alone
    assert table.loc["combined", "value"] > table.loc["informative", "value"]
    assert (fit.coefficients[["informative", "instability"]] > 0).all()
    assert fit.n_images == len(val) and fit.n_errors == (~val["correct"]).sum()


def test_combined_score_on_separable_validation():
    val = error_score_frame(seed=3)
    fit = fit_combined_score(val, ["perfect"])
    assert np.isfinite(fit.coefficients).all()
    errors = ~val["correct"].to_numpy()
    assert fit.score(val)[errors].min() > fit.score(val)[~errors].max()


def test_combined_score_refuses_a_single_class():
    val = error_score_frame().assign(correct=True)
    with pytest.raises(ValueError, match="0 error.*400 images"):
        fit_combined_score(val, ["informative"])
    with pytest.raises(KeyError, match="nope"):
        fit_combined_score(error_score_frame(), ["nope"])
