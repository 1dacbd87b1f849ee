import numpy as np
import pytest
import torch

from tmvlib.models import gray_to_input
from tmvlib.models.backbones import UnknownBackboneError
from tmvlib.models.replicates import Replicate, backbone_banks, fit_replicate, replicate_grid, replicate_logits
from tmvlib.models.train import TrainConfig

from tmv_testing import toy_data

FAST = dict(epochs=1, batch_size=16, lr=3e-3, patience=5, augment=False, precision="fp32", channels_last=False)


def test_grid_is_backbone_major_at_native_sizes():
    grid = replicate_grid(["efficientnet_lite0", "efficientnet_lite2"], [0, 1])
    assert [(r.backbone, r.seed, r.image_size) for r in grid] == [
        ("efficientnet_lite0", 0, 224), ("efficientnet_lite0", 1, 224),
        ("efficientnet_lite2", 0, 260), ("efficientnet_lite2", 1, 260)]
    assert {r.image_size for r in replicate_grid(["efficientnet_lite1"], [3], image_size=64)} == {64}
    assert grid[3].label == "efficientnet_lite2 · seed 1"
    assert grid[0].checkpoint("ck").name == "replicate_efficientnet_lite0_224_seed0.pt"


def test_grid_refuses_bad_input():
    with pytest.raises(UnknownBackboneError, match="resnet5"):
        replicate_grid(["resnet5"], [0])
    with pytest.raises(ValueError, match="repeat"):
        replicate_grid(["efficientnet_lite0"], [0, 0])
    with pytest.raises(ValueError, match="at least one"):
        replicate_grid([], [0])


def test_replicates_differ_by_seed_and_are_reused(tmp_path):
    (x, y), (xv, yv) = toy_data(), toy_data(32, seed=1)
    size = x.shape[-1]
    args = dict(weights="auto", dropout=0.2, frozen_stages=6, train=TrainConfig(**FAST), split_hash="h",
                train_images=x, train_labels=y, val_images=xv, val_labels=yv, progress=False)
    fits = [fit_replicate(r, r.checkpoint(tmp_path), **args) for r in replicate_grid(["efficientnet_lite0"], [0, 1], size)]
    banks = backbone_banks(Replicate("efficientnet_lite0", 0, size), "auto", 0.2, 6, TrainConfig(**FAST), {"val": xv},
                           progress=False)
    logits = [replicate_logits(f, banks)["val"] for f in fits]
    # the shared bank gives each replicate's own forward pass
    with torch.no_grad():
        own = fits[1].model.eval()(gray_to_input(xv, fits[1].weights)).numpy()
    np.testing.assert_allclose(logits[1], own, atol=1e-4)
    assert logits[0].shape == (len(xv),) and not np.allclose(logits[0], logits[1])
    again = fit_replicate(Replicate("efficientnet_lite0", 1, size), Replicate("efficientnet_lite0", 1, size).checkpoint(tmp_path), **args)
    assert again.reused
    assert torch.equal(again.model.fc.weight, fits[1].model.fc.weight)
    with pytest.raises(ValueError, match="px"):
        fit_replicate(Replicate("efficientnet_lite0", 0, size * 2), tmp_path / "x.pt", **args)


def test_the_baseline_checkpoint_is_reused_only_for_its_own_config(tmp_path):
    (x, y), (xv, yv) = toy_data(), toy_data(32, seed=1)
    size = x.shape[-1]
    args = dict(weights="auto", dropout=0.2, frozen_stages=6, train=TrainConfig(**FAST), split_hash="h",
                train_images=x, train_labels=y, val_images=xv, val_labels=yv, progress=False)
    base = Replicate("efficientnet_lite0", 0, size)
    fit_replicate(base, tmp_path / "baseline.pt", **args)
    before = (tmp_path / "baseline.pt").read_bytes()
    same = fit_replicate(base, base.checkpoint(tmp_path), baseline_checkpoint=tmp_path / "baseline.pt", **args)
    assert same.reused and same.checkpoint == tmp_path / "baseline.pt"
    other = Replicate("efficientnet_lite0", 1, size)
    fitted = fit_replicate(other, other.checkpoint(tmp_path), baseline_checkpoint=tmp_path / "baseline.pt", **args)
    assert not fitted.reused and fitted.checkpoint == other.checkpoint(tmp_path)
    assert (tmp_path / "baseline.pt").read_bytes() == before  # never retrained over
