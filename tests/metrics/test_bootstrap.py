import numpy as np
import pytest

from tmvlib.metrics.bootstrap import patient_bootstrap
from tmvlib.metrics.discrimination import auroc


def synthetic(n_patients=200, images_per_patient=1, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n_patients)
    scores = labels + rng.normal(0, 1.0, n_patients)
    rep = np.repeat(np.arange(n_patients), images_per_patient)
    return labels[rep], scores[rep], rep


def test_interval_contains_the_estimate_and_is_reproducible():
    labels, scores, patients = synthetic()
    first = patient_bootstrap(auroc, labels, scores, patients, n_boot=300, seed=1)
    assert first.low < first.value < first.high
    assert first == patient_bootstrap(auroc, labels, scores, patients, n_boot=300, seed=1)
    assert first != patient_bootstrap(auroc, labels, scores, patients, n_boot=300, seed=2)


def test_duplicated_images_do_not_shrink_a_patient_level_interval():
    labels, scores, patients = synthetic(images_per_patient=1)
    single = patient_bootstrap(auroc, labels, scores, patients, n_boot=400, seed=0)
    labels5, scores5, patients5 = synthetic(images_per_patient=5)
    copies = patient_bootstrap(auroc, labels5, scores5, patients5, n_boot=400, seed=0)
    image_level = patient_bootstrap(auroc, labels5, scores5, np.arange(len(labels5)), n_boot=400, seed=0)
    width = lambda iv: iv.high - iv.low  # noqa: E731
    assert width(copies) == pytest.approx(width(single), rel=0.25)
    assert width(image_level) < 0.6 * width(copies)  # what resampling images would wrongly claim


def test_single_class_draws_are_skipped_and_counted():
    labels = np.array([0, 0, 0, 1])
    scores = np.array([0.1, 0.2, 0.3, 0.9])
    interval = patient_bootstrap(auroc, labels, scores, np.arange(4), n_boot=200, seed=0)
    assert 0 < interval.skipped < 200
    with pytest.raises(ValueError, match="single class"):
        patient_bootstrap(auroc, np.zeros(3), np.ones(3), np.arange(3), n_boot=5)


def test_weighted_draw_equals_copied_rows():
    from tmvlib.metrics.discrimination import average_precision, thresholded_metrics

    labels, scores, _ = synthetic(50)
    weight = np.random.default_rng(3).integers(0, 4, 50)
    rows = np.repeat(np.arange(50), weight)
    assert auroc(labels, scores, weight) == pytest.approx(auroc(labels[rows], scores[rows]))
    assert average_precision(labels, scores, weight) == pytest.approx(average_precision(labels[rows], scores[rows]))
    assert thresholded_metrics(labels, scores, 0.5, weight) == pytest.approx(
        thresholded_metrics(labels[rows], scores[rows], 0.5))


def test_bootstrap_mean_is_the_mean_with_a_patient_level_interval():
    from tmvlib.metrics.bootstrap import patient_bootstrap_mean

    rng = np.random.default_rng(1)
    values = rng.random(60)
    patients = np.repeat(np.arange(20), 3)
    interval = patient_bootstrap_mean(values, patients, n_boot=500, seed=3)
    assert interval.value == pytest.approx(values.mean())
    assert interval.low < interval.value < interval.high
    assert patient_bootstrap_mean(values, patients, n_boot=500, seed=3) == interval
    # one patient per image resamples more units: a narrower interval than 3-image clusters of
    # perfectly correlated values
    clustered = np.repeat(rng.random(20), 3)
    wide = patient_bootstrap_mean(clustered, patients, n_boot=500, seed=3)
    narrow = patient_bootstrap_mean(clustered, np.arange(60), n_boot=500, seed=3)
    assert (wide.high - wide.low) > 1.3 * (narrow.high - narrow.low)


def test_bootstrap_mean_leaves_nan_out_and_refuses_all_nan():
    from tmvlib.metrics.bootstrap import patient_bootstrap_mean

    values = np.array([1.0, np.nan, 0.0, 1.0])
    interval = patient_bootstrap_mean(values, np.array(["a", "b", "c", "d"]), n_boot=200)
    assert interval.value == pytest.approx(2 / 3)
    assert 0.0 <= interval.low <= interval.high <= 1.0
    with pytest.raises(ValueError, match="NaN"):
        patient_bootstrap_mean(np.array([np.nan, np.nan]), np.array(["a", "b"]))
    with pytest.raises(ValueError, match="patient ids"):
        patient_bootstrap_mean(np.array([1.0]), np.array(["a", "b"]))


def test_one_draw_for_every_patient_interval_whatever_the_block():
    """patient_bootstrap, patient_bootstrap_mean and the paired bootstrap resample the same
    patients in the same draws; blocks of any size give the same draws as one pass."""
    import numpy as np

    from tmvlib.metrics.bootstrap import patient_draws, patient_weight_blocks, patient_weights

    patients = np.array(["a", "a", "b", "c", "c", "c", "d"])
    whole = patient_weights(patients, 37, seed=5)
    assert whole.shape == (37, 7)
    assert np.array_equal(np.concatenate(list(patient_weight_blocks(patients, 37, 5, block=4))), whole)
    assert np.array_equal(np.stack(list(patient_draws(patients, 37, 5))), whole)
    assert (whole[:, 0] == whole[:, 1]).all()  # a patient's images are drawn together
    rng = np.random.default_rng(5)  # the loop this replaced: one draw of as many patients at a time
    codes = np.array([0, 0, 1, 2, 2, 2, 3])
    looped = np.stack([np.bincount(rng.integers(0, 4, 4), minlength=4)[codes] for _ in range(37)])
    assert np.array_equal(looped, whole)
