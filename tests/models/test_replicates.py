import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from tmvlib.data.tensors import load_image_tensor
from tmvlib.models import gray_to_input
from tmvlib.models.backbones import UnknownBackboneError
from tmvlib.models.recipe import ModelRecipe, TrainingData
from tmvlib.models.replicates import (Replicate, backbone_banks, baseline_replicate, fit_replicate, replicate_grid,
                                     replicate_logits, train_replicates_as_tasks)
from tmvlib.models.train import TrainConfig
from tmvlib.parallel import TaskPlacement

from tmv_testing import toy_data

FAST = dict(epochs=1, batch_size=16, lr=3e-3, patience=5, augment=False, precision="fp32", channels_last=False)
# the baseline's recipe; a replicate takes its backbone, size and seed from the Replicate
BASELINE = ModelRecipe("efficientnet_lite0", "auto", 32, 0.2, 6, TrainConfig(**FAST), "h")


def test_a_replicate_is_the_baseline_recipe_with_its_backbone_size_and_seed():
    own = Replicate("efficientnet_lite1", 3, 240).recipe(BASELINE)
    assert (own.backbone, own.image_size, own.train.seed, own.train.cache_seed) == ("efficientnet_lite1", 240, 3, None)
    assert (own.weights, own.dropout, own.frozen_stages, own.split_hash) == ("auto", 0.2, 6, "h")
    assert own.train.epochs == BASELINE.train.epochs
    grid = replicate_grid(["efficientnet_lite0"], [1, 0], 32)
    assert baseline_replicate(grid, BASELINE) == grid[1]
    assert baseline_replicate(grid, BASELINE.with_train(seed=7)) is None


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
    args = dict(recipe=BASELINE, data=TrainingData(x, y, xv, yv), progress=False)
    fits = [fit_replicate(r, r.checkpoint(tmp_path), **args) for r in replicate_grid(["efficientnet_lite0"], [0, 1], size)]
    banks = backbone_banks(Replicate("efficientnet_lite0", 0, size), BASELINE, {"val": xv}, progress=False)
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
    args = dict(recipe=BASELINE, data=TrainingData(x, y, xv, yv), progress=False)
    base = Replicate("efficientnet_lite0", 0, size)
    fit_replicate(base, tmp_path / "baseline.pt", **args)
    before = (tmp_path / "baseline.pt").read_bytes()
    same = fit_replicate(base, base.checkpoint(tmp_path), baseline_checkpoint=tmp_path / "baseline.pt", **args)
    assert same.reused and same.checkpoint == tmp_path / "baseline.pt"
    other = Replicate("efficientnet_lite0", 1, size)
    fitted = fit_replicate(other, other.checkpoint(tmp_path), baseline_checkpoint=tmp_path / "baseline.pt", **args)
    assert not fitted.reused and fitted.checkpoint == other.checkpoint(tmp_path)
    assert (tmp_path / "baseline.pt").read_bytes() == before  # never retrained over


def _image_frames(tmp_path):
    """Toy train and validation sets as PNG files (lossless): ``path, label`` frames."""
    frames = {}
    for name, (x, y) in (("train", toy_data()), ("val", toy_data(32, seed=1))):
        folder = tmp_path / name
        folder.mkdir()
        paths = []
        for k, image in enumerate(x):
            paths.append(folder / f"{k}.png")
            Image.fromarray(image[0].numpy(), mode="L").save(paths[-1])
        frames[name] = pd.DataFrame({"path": [str(p) for p in paths], "label": y})
    return frames


@pytest.mark.slow
@pytest.mark.parametrize("executor", ["local", pytest.param("ray", marks=pytest.mark.ray)])
def test_replicates_trained_as_tasks_equal_replicates_trained_here(tmp_path, executor):
    """Each task decodes its own images on one thread; the replicates equal those trained here,
    a second call trains nothing, and the baseline's own config is never trained again."""
    if executor == "ray":
        ray = pytest.importorskip("ray")
    frames = _image_frames(tmp_path)
    size = 32
    grid = replicate_grid(["efficientnet_lite0"], [0, 1], size)
    images = {name: load_image_tensor(frame, size, progress=False) for name, frame in frames.items()}
    data = TrainingData(images["train"], frames["train"]["label"].to_numpy(), images["val"],
                        frames["val"]["label"].to_numpy())
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        here = [fit_replicate(r, r.checkpoint(tmp_path / "here"), BASELINE, data, progress=False) for r in grid]
        baseline = here[0].checkpoint
        trained = train_replicates_as_tasks(grid, tmp_path / "tasks", BASELINE, frames["train"], frames["val"],
                                            baseline_checkpoint=baseline, placement=TaskPlacement(executor, 1))
        again = train_replicates_as_tasks(grid, tmp_path / "tasks", BASELINE, frames["train"], frames["val"],
                                          baseline_checkpoint=baseline, placement=TaskPlacement(executor))
    finally:
        torch.set_num_threads(threads)
        if executor == "ray":
            ray.shutdown()
    assert trained == [grid[1].checkpoint(tmp_path / "tasks")] and again == []
    assert not grid[0].checkpoint(tmp_path / "tasks").exists()
    remote = fit_replicate(grid[1], trained[0], BASELINE, data, progress=False)
    assert remote.reused
    for key, value in here[1].model.state_dict().items():
        assert torch.equal(value, remote.model.state_dict()[key]), key
