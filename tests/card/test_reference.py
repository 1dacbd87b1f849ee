import numpy as np
import pytest

from tmvlib.card.inputs import Radiograph
from tmvlib.card.reference import OOD, InputReference, fit_input_reference, input_checks, knn_distance, normalize_rows


def _reference(seed=0, n=60, size=16):
    rng = np.random.default_rng(seed)
    grays = rng.normal(128, 40, (n, size, size)).clip(0, 255).astype(np.uint8)
    centre = np.r_[np.ones(4), np.zeros(4)]
    train = centre + 0.1 * rng.normal(size=(n, 8))
    val = centre + 0.1 * rng.normal(size=(30, 8))
    return fit_input_reference(grays, [(1024, 1024)] * n, train, val, image_size=size, k=5, quantile=0.9), rng


def test_knn_distance_is_kth_neighbour_cosine():
    bank = normalize_rows(np.eye(3))
    d = knn_distance(np.array([[1.0, 0, 0]]), bank, k=2)
    assert d[0] == pytest.approx(1.0)  # second neighbour is orthogonal
    assert knn_distance(np.array([[2.0, 0, 0]]), bank, k=1)[0] == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(ValueError, match="k must be"):
        knn_distance(bank, bank, k=4)


def test_threshold_flags_the_chosen_share_of_validation():
    ref, _ = _reference()
    assert (ref.val_distances > ref.distance_threshold).mean() == pytest.approx(0.1, abs=0.04)


def _checks(ref, gray_at_size, features, width=1024, height=1024, spread=0.0):
    r = Radiograph("x.png", np.zeros((height, width), np.uint8), "PNG", "L", 8, 1, spread)
    return {c.name: c for c in input_checks(r, gray_at_size, features, ref)}


def test_in_distribution_image_passes_and_far_inputs_fire():
    ref, rng = _reference()
    typical = rng.normal(128, 40, (16, 16)).clip(0, 255).astype(np.uint8)
    inside = np.r_[np.ones(4), np.zeros(4)]
    ok = _checks(ref, typical, inside)
    assert not any(c.fired for c in ok.values())
    far = _checks(ref, np.full((16, 16), 250, np.uint8), np.r_[np.zeros(4), np.ones(4)], width=2000, height=1000,
                  spread=30.0)
    fired = {name for name, c in far.items() if c.fired}
    assert {"colour", "intensity mean", "intensity spread", "feature distance", "aspect ratio"} <= fired
    assert far["feature distance"].severity == OOD and far["aspect ratio"].severity == OOD  # 2:1
    mild = _checks(ref, typical, inside, width=1200, height=1000)
    assert mild["aspect ratio"].fired and mild["aspect ratio"].severity != OOD
    small = _checks(ref, typical, inside, width=12, height=12)
    assert small["size"].fired and small["size"].severity != OOD and "upsampled" in small["size"].message
    tiny = _checks(ref, typical, inside, width=7, height=7)
    assert tiny["size"].fired and tiny["size"].severity == OOD


def test_save_and_load_round_trip(tmp_path):
    ref, _ = _reference()
    loaded = InputReference.load(ref.save(tmp_path))
    assert loaded.intensity_mean == ref.intensity_mean and loaded.k == ref.k
    np.testing.assert_allclose(loaded.bank, ref.bank)
    np.testing.assert_allclose(loaded.knn_distance(ref.bank[:3]), ref.knn_distance(ref.bank[:3]))


def test_the_flag_table_applies_the_cards_rule_to_many_images():
    """chapter 08's rates (ood_flag_frame) flag exactly the images the card defers (input_checks)."""
    import pandas as pd

    from tmvlib.card.reference import ood_flag_frame
    from tmvlib.data.tensors import intensity_stats

    ref, rng = _reference()
    typical = rng.normal(128, 40, (16, 16)).clip(0, 255).astype(np.uint8)
    inside, outside = np.r_[np.ones(4), np.zeros(4)], np.r_[np.zeros(4), np.ones(4)]
    cases = [(typical, inside, 1024, 1024, 0.0), (typical, inside, 1024, 1024, 30.0),
             (np.full((16, 16), 250, np.uint8), inside, 1024, 1024, 0.0), (typical, outside, 1024, 1024, 0.0),
             (typical, inside, 2000, 1000, 0.0), (typical, inside, 1200, 1000, 0.0), (typical, inside, 7, 7, 0.0)]
    grays = np.stack([c[0] for c in cases])
    means, stds = intensity_stats(grays)
    rows = pd.DataFrame({"intensity_mean": means, "intensity_std": stds, "width": [c[2] for c in cases],
                         "height": [c[3] for c in cases], "colour_spread": [c[4] for c in cases]})
    table = ood_flag_frame(ref, rows, np.stack([c[1] for c in cases]))
    card = [any(c.fired and c.severity == OOD for c in _checks(ref, g, f, w, h, s).values()) for g, f, w, h, s in cases]
    assert table["flagged"].tolist() == card == [False, True, True, True, True, False, True]
    assert table["feature distance"].dtype.kind == "f" and table["fired: colour"].tolist()[1]
