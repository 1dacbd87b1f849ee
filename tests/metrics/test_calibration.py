import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import brier_score_loss, log_loss

from tmvlib.metrics.bootstrap import patient_bootstrap
from tmvlib.metrics.calibration import (bin_edges, brier, calibration_summary, ece, mce, nll,
                                        reliability_table)


@pytest.fixture(scope="module")
def torchmetrics_classes():
    """Imported lazily: torchmetrics is a test extra and slow to import (it pulls torchvision)."""
    classification = pytest.importorskip("torchmetrics.classification")
    torch = pytest.importorskip("torch")
    return torch, classification.BinaryCalibrationError, classification.MulticlassCalibrationError


def random_case(seed, n=400):
    rng = np.random.default_rng(seed)
    probs = rng.random(n)
    labels = (rng.random(n) < probs ** 1.5).astype(int)  # a miscalibrated model
    return labels, probs


# Hand-computed, 3 equal-width bins [0, 1/3], (1/3, 2/3], (2/3, 1]:
#   positive:  bin 0 {0.1, 0.2} conf 0.15 obs 1/2; bin 1 {0.5, 0.6} conf 0.55 obs 1/2;
#              bin 2 {0.9, 1.0} conf 0.95 obs 1 -> ECE = (0.35 + 0.05 + 0.05) / 3, MCE = 0.35.
#   top-label: predicted [0, 0, 1, 1, 1, 1], confidence [.9, .8, .5, .6, .9, 1], correct
#              [1, 0, 0, 1, 1, 1]; bin 0 empty; bin 1 {.5, .6} conf .55 acc .5;
#              bin 2 {.9, .8, .9, 1} conf .9 acc .75 -> ECE = 2/6 * .05 + 4/6 * .15, MCE = .15.
HAND_LABELS = np.array([0, 1, 0, 1, 1, 1])
HAND_PROBS = np.array([0.1, 0.2, 0.5, 0.6, 0.9, 1.0])


def test_hand_computed_positive_and_top_label():
    assert ece(HAND_LABELS, HAND_PROBS, n_bins=3) == pytest.approx(0.15)
    assert mce(HAND_LABELS, HAND_PROBS, n_bins=3) == pytest.approx(0.35)
    assert ece(HAND_LABELS, HAND_PROBS, n_bins=3, kind="top_label") == pytest.approx(
        2 / 6 * 0.05 + 4 / 6 * 0.15)
    assert mce(HAND_LABELS, HAND_PROBS, n_bins=3, kind="top_label") == pytest.approx(0.15)


def test_hand_computed_reliability_table():
    table = reliability_table(HAND_LABELS, HAND_PROBS, n_bins=3, kind="top_label")
    assert list(table.columns) == ["lower", "upper", "confidence", "observed", "count",
                                   "fraction", "gap"]
    np.testing.assert_allclose(table["upper"], [1 / 3, 2 / 3, 1])
    np.testing.assert_allclose(table["count"], [0, 2, 4])
    np.testing.assert_allclose(table["confidence"], [np.nan, 0.55, 0.9])
    np.testing.assert_allclose(table["observed"], [np.nan, 0.5, 0.75])
    np.testing.assert_allclose(table["gap"], [np.nan, -0.05, -0.15])
    filled = table["count"] > 0
    assert (table["fraction"] * table["gap"].abs())[filled].sum() == pytest.approx(
        ece(HAND_LABELS, HAND_PROBS, n_bins=3, kind="top_label"))


def test_hand_computed_equal_mass():
    # Quantile edges 0.2 and 0.4: bins {.1, .2} obs 0, {.3, .4} obs 1/2, {.5, .6} obs 1.
    labels, probs = np.array([0, 0, 1, 0, 1, 1]), np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    np.testing.assert_allclose(bin_edges(probs, 3, "equal_mass"), [0, 0.2, 0.4, 1])
    assert ece(labels, probs, n_bins=3, binning="equal_mass") == pytest.approx(
        (0.15 + 0.15 + 0.45) / 3)
    assert mce(labels, probs, n_bins=3, binning="equal_mass") == pytest.approx(0.45)


def test_equal_mass_ties_share_a_bin_whatever_the_row_order():
    probs = np.array([0.3, 0.3, 0.3, 0.3, 0.3, 0.8])
    labels = np.array([0, 1, 0, 0, 1, 1])
    table = reliability_table(labels, probs, n_bins=3, binning="equal_mass")
    assert list(table["count"]) == [5, 1]  # repeated edges 0.3 merged: two bins, not three
    order = np.random.default_rng(0).permutation(6)
    assert ece(labels[order], probs[order], n_bins=3, binning="equal_mass") == pytest.approx(
        ece(labels, probs, n_bins=3, binning="equal_mass"))
    constant = reliability_table(labels[:5], probs[:5], n_bins=4, binning="equal_mass")
    assert list(constant["count"]) == [5, 0] and np.isnan(constant["observed"].iloc[1])
    assert ece(labels[:5], probs[:5], n_bins=4, binning="equal_mass") == pytest.approx(0.1)


def test_exact_zero_and_one_fall_in_the_first_and_last_bins():
    labels, probs = np.array([0, 1, 1, 0]), np.array([0.0, 1.0, 0.5, 0.5])
    table = reliability_table(labels, probs, n_bins=2)
    assert list(table["count"]) == [3, 1]  # 0.5 is an edge: right-closed bins put it below
    assert list(reliability_table(labels, probs, n_bins=4)["count"]) == [1, 2, 0, 1]
    top = reliability_table(labels, probs, n_bins=4, kind="top_label")
    assert top["count"].sum() == 4 and top["count"].iloc[-1] == 2


def test_empty_bins_never_make_the_ece_nan():
    labels, probs = np.array([0, 1, 1]), np.array([0.01, 0.02, 0.99])
    for metric in (ece, mce):
        assert np.isfinite(metric(labels, probs, n_bins=50))
    assert reliability_table(labels, probs, n_bins=50)["observed"].isna().sum() == 48


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("n_bins", [1, 2, 7, 15, 30])
def test_positive_kind_matches_torchmetrics_binary_calibration_error(seed, n_bins,
                                                                    torchmetrics_classes):
    # torchmetrics' binary metric bins p = P(y=1) against the target: the "positive" kind.
    torch, BinaryCalibrationError, _ = torchmetrics_classes
    labels, probs = random_case(seed)
    preds, target = torch.tensor(probs), torch.tensor(labels)
    for norm, metric in (("l1", ece), ("max", mce)):
        expected = BinaryCalibrationError(n_bins=n_bins, norm=norm)(preds, target).item()
        assert metric(labels, probs, n_bins=n_bins) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("seed", [0, 3])
@pytest.mark.parametrize("n_bins", [2, 10, 15])
def test_top_label_kind_matches_torchmetrics_multiclass_on_two_columns(seed, n_bins,
                                                                      torchmetrics_classes):
    # Its multiclass metric on [1 - p, p] bins the top-label confidence: the "top_label" kind.
    torch, _, MulticlassCalibrationError = torchmetrics_classes
    labels, probs = random_case(seed)
    preds = torch.tensor(np.stack([1 - probs, probs], axis=1))
    for norm, metric in (("l1", ece), ("max", mce)):
        multiclass = MulticlassCalibrationError(num_classes=2, n_bins=n_bins, norm=norm)
        expected = multiclass(preds, torch.tensor(labels)).item()
        assert metric(labels, probs, n_bins=n_bins, kind="top_label") == pytest.approx(
            expected, abs=1e-6)  # torchmetrics casts multiclass confidences to float32


def test_the_two_kinds_differ_in_general():
    labels, probs = random_case(0)
    assert abs(ece(labels, probs) - ece(labels, probs, kind="top_label")) > 0.01


def test_nll_and_brier_match_sklearn():
    labels, probs = random_case(4)
    weight = np.random.default_rng(4).integers(1, 4, len(labels))
    assert nll(labels, probs) == pytest.approx(log_loss(labels, probs))
    assert nll(labels, probs, weight) == pytest.approx(log_loss(labels, probs, sample_weight=weight))
    assert brier(labels, probs) == pytest.approx(brier_score_loss(labels, probs))
    assert brier(labels, probs, weight) == pytest.approx(
        brier_score_loss(labels, probs, sample_weight=weight))


def test_nll_clips_at_1e7():
    assert nll(np.array([0]), np.array([1.0])) == pytest.approx(-np.log(1e-7))
    assert nll(np.array([1, 0]), np.array([1.0, 0.0])) == pytest.approx(-np.log1p(-1e-7))
    assert brier(np.array([1, 0]), np.array([0.0, 0.5])) == pytest.approx((1 + 0.25) / 2)


METRICS = {
    "nll": nll,
    "brier": brier,
    "ece width positive": ece,
    "ece mass positive": lambda y, p, sample_weight=None: ece(y, p, sample_weight,
                                                             binning="equal_mass"),
    "ece width top": lambda y, p, sample_weight=None: ece(y, p, sample_weight, kind="top_label"),
    "ece mass top": lambda y, p, sample_weight=None: ece(y, p, sample_weight, n_bins=7,
                                                         binning="equal_mass", kind="top_label"),
    "mce width": mce,
    "mce mass": lambda y, p, sample_weight=None: mce(y, p, sample_weight, binning="equal_mass"),
}


@pytest.mark.parametrize("name", METRICS)
def test_integer_weights_equal_repeated_rows(name):
    metric = METRICS[name]
    labels, probs = random_case(5, n=200)
    probs[:20] = 0.4  # ties, so equal-mass edges land on repeated values
    weight = np.random.default_rng(5).integers(0, 4, len(labels))  # zeros drop rows
    repeated = metric(np.repeat(labels, weight), np.repeat(probs, weight))
    assert metric(labels, probs, sample_weight=weight) == pytest.approx(repeated, abs=1e-12)
    assert metric(labels, probs, sample_weight=np.ones(len(labels))) == pytest.approx(
        metric(labels, probs))


def test_single_class_labels_are_fine():
    probs = np.array([0.1, 0.4, 0.7])
    assert ece(np.zeros(3), probs, n_bins=2) == pytest.approx((0.25 * 2 + 0.7) / 3)
    assert np.isfinite(nll(np.ones(3), probs)) and np.isfinite(mce(np.ones(3), probs))


@pytest.mark.parametrize("labels, probs, weight, message", [
    ([0, 1, 1], [0.2, 1.3, -0.1], None, r"probs .*2 value\(s\) out of 3"),
    ([0, 1, 1], [0.2, np.nan, 0.5], None, r"probs holds 1 NaN"),
    ([0, np.nan, 1], [0.2, 0.3, 0.5], None, r"labels holds 1 NaN"),
    ([0, 2, 1], [0.2, 0.3, 0.5], None, r"labels must be 0 or 1; 1 value"),
    ([0, 1], [0.2, 0.3, 0.5], None, r"same length.*labels=2, probs=3"),
    ([], [], None, r"labels is empty"),
    ([0, 1], [0.2, 0.3], [1, -1], r"sample_weight must be >= 0; 1 value"),
    ([0, 1], [0.2, 0.3], [0, 0], r"sums to 0"),
    ([0, 1], [0.2, 0.3], [1, 1, 1], r"same length"),
    ([[0, 1]], [[0.2, 0.3]], None, r"1-D"),
])
def test_bad_input_raises_a_clear_value_error(labels, probs, weight, message):
    for metric in (nll, brier, ece, mce, reliability_table):
        with pytest.raises(ValueError, match=message):
            metric(np.asarray(labels), np.asarray(probs), sample_weight=weight)


def test_bad_options_raise():
    labels, probs = HAND_LABELS, HAND_PROBS
    with pytest.raises(ValueError, match="n_bins"):
        ece(labels, probs, n_bins=0)
    with pytest.raises(ValueError, match="kind"):
        ece(labels, probs, kind="negative")
    with pytest.raises(ValueError, match="binning"):
        mce(labels, probs, binning="quantile")


def test_metrics_plug_into_the_patient_bootstrap_and_the_summary():
    labels, probs = random_case(6, n=300)
    patients = np.arange(len(labels)) // 3
    interval = patient_bootstrap(ece, labels, probs, patients, n_boot=50, seed=0)
    assert interval.low <= interval.value <= interval.high
    table = calibration_summary(labels, probs, patients, n_boot=50, seed=0, n_bins=10)
    assert list(table.index) == ["NLL", "Brier", "ECE (positive, equal-width)",
                                 "ECE (positive, equal-mass)", "ECE (top-label, equal-width)",
                                 "MCE (positive, equal-width)"]
    assert list(table.columns) == ["value", "low", "high"]
    assert table.notna().all().all() and (table["low"] <= table["high"]).all()
    assert table.loc["Brier", "value"] == pytest.approx(brier(labels, probs))
    assert table.loc["ECE (positive, equal-width)", "value"] == pytest.approx(
        ece(labels, probs, n_bins=10))
    assert table.attrs["patients"] == 100
    assert isinstance(table, pd.DataFrame)
    with pytest.raises(ValueError, match="patients=2"):
        calibration_summary(labels, probs, patients[:2])
