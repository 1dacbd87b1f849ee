"""The shortcut control, cross-fitted: every fold's two models on their own fold's images, pooled."""
import numpy as np
import pandas as pd
import pytest
from scipy.special import expit, logit
from tmv_testing import SHORTCUT_PROBS, shortcut_evaluation

from tmvlib.tables.cross_fit_shortcut import fold_shortcut_estimates, pooled_shortcut_evaluation
from tmvlib.tables.shortcut_control import shortcut_comparisons, shortcut_estimates

THRESHOLDS = {"no_finding": pd.Series({0: 0.45, 1: 0.6}), "all": pd.Series({0: 0.55, 1: 0.4})}


def scored_by_fold():
    """rule -> score_fold_roles-like rows: two folds, each image scored by its fold's model of each rule."""
    frame = shortcut_evaluation(40).assign(image_id=lambda f: [f"i{k:03d}" for k in range(len(f))])
    frame["fold"] = frame["patient_id"].str[1:].astype(int) % 2
    rows = {}
    for rule, column in SHORTCUT_PROBS.items():
        shift = logit(frame["fold"].map(THRESHOLDS[rule])) - logit(0.5)  # each fold model's own scale
        rows[rule] = frame[["fold", "image_id", "patient_id", "label", "negative"]].assign(
            role="test", prob=expit(logit(frame[column].clip(0.01, 0.99)) + shift))
    return frame, rows


def test_the_pooled_set_holds_every_image_once_with_each_models_probability_aligned_to_its_threshold():
    frame, scored = scored_by_fold()
    pooled, probs = pooled_shortcut_evaluation(scored, THRESHOLDS)
    assert len(pooled) == len(frame) and pooled["image_id"].is_unique and probs == SHORTCUT_PROBS
    by_id = pooled.set_index("image_id")
    for rule, column in probs.items():  # aligned: the fold's shift undone, decisions kept
        expected = frame.set_index("image_id")[column].clip(0.01, 0.99)
        np.testing.assert_allclose(by_id.loc[expected.index, column], expected, atol=1e-12)
        raw = scored[rule].set_index("image_id")
        decided = raw["prob"] >= raw["fold"].map(THRESHOLDS[rule])
        assert ((by_id.loc[raw.index, column] >= 0.5) == decided).all()


def test_an_image_scored_by_one_rules_model_only_is_refused():
    _, scored = scored_by_fold()
    scored["all"] = scored["all"].iloc[1:]
    with pytest.raises(ValueError, match="one model of their fold only"):
        pooled_shortcut_evaluation(scored, THRESHOLDS)


def test_per_fold_estimates_are_the_comparisons_on_each_folds_own_images_at_its_own_thresholds():
    frame, scored = scored_by_fold()
    pooled, probs = pooled_shortcut_evaluation(scored, THRESHOLDS)
    estimates = fold_shortcut_estimates(pooled, probs)
    assert list(estimates.columns) == ["fold 0", "fold 1"] and len(estimates) == 7
    for fold in (0, 1):
        own = pd.concat([scored[r].set_index("image_id")["prob"].rename(c) for r, c in probs.items()], axis=1)
        part = frame.set_index("image_id")[["patient_id", "label", "negative", "fold"]].join(own)
        part = part[part["fold"] == fold]
        thresholds = {rule: THRESHOLDS[rule][fold] for rule in probs}
        expected = shortcut_comparisons(part, probs, thresholds, n_boot=20).set_index("comparison")["value"]
        np.testing.assert_allclose(estimates[f"fold {fold}"], expected.loc[estimates.index], atol=1e-12)


def test_the_point_estimates_are_the_comparisons_values():
    frame = shortcut_evaluation(30)
    table = shortcut_comparisons(frame, SHORTCUT_PROBS, {"no_finding": 0.5, "all": 0.5}, n_boot=20)
    estimates = shortcut_estimates(frame, SHORTCUT_PROBS, {"no_finding": 0.5, "all": 0.5})
    np.testing.assert_allclose(estimates.to_numpy(), table["value"].to_numpy())
    assert estimates.index.tolist() == table["comparison"].tolist()
