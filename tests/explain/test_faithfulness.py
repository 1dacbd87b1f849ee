import numpy as np
import pytest
import torch

from tmvlib.explain.faithfulness import curve_auc, perturbation_curves, saliency_order


def region_model(batch: torch.Tensor) -> torch.Tensor:
    """A 'model' whose score is the mean of the top-left 4 x 4 patch of channel 0."""
    return batch[:, 0, :4, :4].mean(dim=(1, 2))


X = torch.ones(3, 8, 8)
BASELINE = torch.zeros(3, 8, 8)
FAITHFUL = np.zeros((8, 8))
FAITHFUL[:4, :4] = 1.0
WRONG = 1.0 - FAITHFUL


def test_a_faithful_map_deletes_fast_and_inserts_fast():
    deletion, insertion = perturbation_curves(region_model, X, FAITHFUL, BASELINE, steps=4)
    assert deletion.tolist() == [1.0, 0.0, 0.0, 0.0, 0.0]  # the 16 relevant pixels go first
    assert insertion.tolist() == [0.0, 1.0, 1.0, 1.0, 1.0]
    wrong_del, wrong_ins = perturbation_curves(region_model, X, WRONG, BASELINE, steps=4)
    assert curve_auc(deletion) < curve_auc(wrong_del)
    assert curve_auc(insertion) > curve_auc(wrong_ins)


def test_batching_does_not_change_the_curves():
    rng = np.random.default_rng(0)
    heat = rng.random((8, 8))
    x = torch.from_numpy(rng.random((3, 8, 8))).float()
    one = perturbation_curves(region_model, x, heat, BASELINE, steps=16, batch_size=17)
    many = perturbation_curves(region_model, x, heat, BASELINE, steps=16, batch_size=3)
    assert all(np.allclose(a, b) for a, b in zip(one, many))


def test_ties_are_ordered_by_position_and_bad_inputs_are_refused():
    assert saliency_order(np.zeros((2, 3))).tolist() == [0, 1, 2, 3, 4, 5]
    with pytest.raises(ValueError, match="does not match"):
        perturbation_curves(region_model, X, np.zeros((4, 4)), BASELINE)
    with pytest.raises(ValueError, match="finite"):
        saliency_order(np.full((2, 2), np.nan))
    assert curve_auc([1.0, 1.0]) == 1.0 and curve_auc([0.0, 1.0, 0.0]) == 0.5


def test_blurred_baseline_keeps_brightness_and_loses_detail():
    from tmvlib.explain.faithfulness import blurred_baseline

    x = torch.zeros(3, 64, 64)
    x[:, ::2] = 1.0  # stripes
    blurred = blurred_baseline(x, sigma=4.0)
    assert blurred.shape == x.shape
    assert abs(blurred.mean().item() - x.mean().item()) < 0.02
    assert blurred[:, 16:48, 16:48].std().item() < 0.05  # stripes gone away from the edges
    assert blurred_baseline(torch.rand(3, 8, 8), sigma=10.0).shape == (3, 8, 8)  # kernel clipped


def test_ties_are_broken_at_random_and_averaged_not_swept_by_position():
    import numpy as np
    import torch

    from tmvlib.explain.faithfulness import has_ties, perturbation_curves, saliency_order

    # a score that only sees the top row: a constant map deleted by position would empty it first
    x, baseline = torch.ones(1, 8, 8), torch.zeros(1, 8, 8)
    score = lambda batch: batch[:, 0, 0, :].mean(dim=1)  # noqa: E731
    flat = np.zeros((8, 8))
    assert has_ties(flat) and not has_ties(np.arange(64.0).reshape(8, 8))
    by_position, _ = perturbation_curves(score, x, flat, baseline, steps=8, tie_orders=0)
    assert by_position[1] == 0.0  # the first eighth deleted is exactly the top row
    averaged, _ = perturbation_curves(score, x, flat, baseline, steps=8, tie_orders=16, seed=0)
    assert 0.7 < averaged[1] < 1.0  # random ties remove about an eighth of the top row
    assert (saliency_order(flat, seed=1) != saliency_order(flat, seed=2)).any()
    smooth = np.arange(64.0).reshape(8, 8)  # no ties: one order, the same for every seed
    assert np.array_equal(perturbation_curves(score, x, smooth, baseline, steps=8, tie_orders=3)[0],
                          perturbation_curves(score, x, smooth, baseline, steps=8, tie_orders=0)[0])
