"""fit_or_load (train or reuse a checkpoint) and load_trained_classifier (rebuild from it)."""
import numpy as np
import pytest

from tmvlib.models.checkpoint import CheckpointMismatch, read_checkpoint_meta
from tmvlib.models.fit import TRAINING_CODE_VERSION, fit_or_load, load_trained_classifier
from tmvlib.models.recipe import ModelRecipe, TrainingData
from tmvlib.models.train import TrainConfig, predict_logits

from tmv_testing import toy_data

FAST = dict(epochs=3, batch_size=16, lr=3e-3, patience=5, augment=False, precision="fp32",
            channels_last=False)


@pytest.fixture(scope="module")
def data():
    return toy_data(), toy_data(32, seed=1)


RECIPE = ModelRecipe("efficientnet_lite0", "auto", 32, 0.2, 6, TrainConfig(**FAST), "h")


@pytest.fixture
def args(data):
    (x, y), (xv, yv) = data
    return dict(recipe=RECIPE, data=TrainingData(x, y, xv, yv), progress=False)


def test_fit_or_load_reuses_a_matching_checkpoint(data, args, tmp_path):
    xv = data[1][0]
    first = fit_or_load(tmp_path / "b.pt", **args)
    again = fit_or_load(tmp_path / "b.pt", **args)
    assert not first.reused and again.reused and again.best_epoch == first.best_epoch
    assert np.allclose(predict_logits(first.model, first.weights, xv, channels_last=False, progress=False),
                       predict_logits(again.model, again.weights, xv, channels_last=False, progress=False))
    changed = fit_or_load(tmp_path / "b.pt", **{**args, "recipe": RECIPE.with_train(epochs=1)})
    assert not changed.reused


def test_a_twin_checkpoint_of_the_same_recipe_is_copied_not_retrained(data, args, tmp_path):
    first = fit_or_load(tmp_path / "baseline.pt", **args)
    twin = fit_or_load(tmp_path / "fold_0.pt", **args, same_as=[tmp_path / "missing.pt", tmp_path / "baseline.pt"])
    assert twin.reused and twin.sha256 == first.sha256
    assert (tmp_path / "fold_0.json").read_text() == (tmp_path / "baseline.json").read_text()
    other = fit_or_load(tmp_path / "other.pt", **{**args, "recipe": RECIPE.with_train(epochs=1)},
                        same_as=[tmp_path / "baseline.pt"])
    assert not other.reused  # another recipe: trained, never copied


def test_a_trained_model_comes_back_as_a_reused_one_does(data, args, tmp_path):
    """Training in channels-last leaves the model in that memory format; fit_or_load returns it as
    a reused checkpoint comes back (CPU, default format), so both compute the same bits."""
    import torch

    recipe = RECIPE.with_train(channels_last=True)
    fresh = fit_or_load(tmp_path / "b.pt", **{**args, "recipe": recipe})
    reused = fit_or_load(tmp_path / "b.pt", **{**args, "recipe": recipe})
    assert not fresh.reused and reused.reused
    for (name, a), b in zip(fresh.model.state_dict().items(), reused.model.state_dict().values()):
        assert torch.equal(a, b) and a.is_contiguous() == b.is_contiguous() and a.device == b.device, name
    x = data[1][0][:8].float().div(255).repeat(1, 3, 1, 1)
    with torch.no_grad():
        assert torch.equal(fresh.model(x), reused.model(x))


def test_load_trained_classifier_rebuilds_the_same_model(data, args, tmp_path):
    fitted = fit_or_load(tmp_path / "b.pt", **args)
    model, info, config = load_trained_classifier(tmp_path / "b.pt")
    xv = data[1][0]
    assert config["backbone"] == "efficientnet_lite0" and config["code_version"] == TRAINING_CODE_VERSION
    assert info.sha256 == fitted.weights.sha256 and not model.training
    assert np.array_equal(predict_logits(model, info, xv, channels_last=False, progress=False),
                       predict_logits(fitted.model, fitted.weights, xv, channels_last=False, progress=False))


def test_load_trained_classifier_refuses_other_pretrained_weights(args, tmp_path, monkeypatch):
    fit_or_load(tmp_path / "b.pt", **args)
    meta = read_checkpoint_meta(tmp_path / "b.pt")

    import tmvlib.models.checkpoint as checkpoint  # load_trained_classifier imports it when called

    changed = {**meta, "config": {**meta["config"], "weights_sha256": "0" * 64}}
    monkeypatch.setattr(checkpoint, "read_checkpoint_meta", lambda path: changed)
    with pytest.raises(CheckpointMismatch, match="trained from pretrained weights 000000000000"):
        load_trained_classifier(tmp_path / "b.pt")


def test_the_recipe_keys_the_checkpoint_by_everything_that_changes_it(data):
    from tmvlib.models import build_classifier

    _, info = build_classifier("efficientnet_lite0", "auto", dropout=0.2, frozen_stages=6)
    config = RECIPE.key(info)
    # the key checkpoints were saved under before ModelRecipe existed: they are still reused
    assert config == {"code_version": TRAINING_CODE_VERSION, "backbone": "efficientnet_lite0", "weights": "auto",
                      "weights_sha256": info.sha256, "image_size": 32, "dropout": 0.2, "frozen_stages": 6,
                      "split_hash": "h", "train": TrainConfig(**FAST).to_dict()}
    assert RECIPE.with_split("h2").key(info) != config
    # a recipe read back from its checkpoint's config keys the same checkpoint
    assert ModelRecipe.from_checkpoint_config(config).key(info) == config


def test_training_data_refuses_images_and_labels_of_different_lengths(data):
    (x, y), (xv, yv) = data
    with pytest.raises(ValueError, match="validation: 32 images but 31 labels"):
        TrainingData(x, y, xv, yv[:-1])
    rows = np.array([0, 0, 5])
    resampled = TrainingData(x, y, xv, yv).train_rows(rows)
    assert len(resampled.train_images) == 3 and list(resampled.train_labels) == list(y[rows])
    assert resampled.val_images is xv


@pytest.mark.slow
def test_permuted_label_model_learns_shuffled_labels_from_a_fresh_head(data, args, tmp_path):
    from tmvlib.models.fit import fit_permuted_label_model

    (x, y), _ = data
    baseline = fit_or_load(tmp_path / "b.pt", **args)
    config = read_checkpoint_meta(tmp_path / "b.pt")["config"]
    ids = [f"i{k}" for k in range(len(y))]
    permuted = fit_permuted_label_model(tmp_path / "p.pt", config, x, y, ids, seed=0)
    record = read_checkpoint_meta(tmp_path / "p.pt")["config"]["train"]
    assert record["augment"] is False and record["patience"] == record["epochs"] == FAST["epochs"]
    assert record["seed"] == config["train"]["seed"] + 1  # never the baseline's initialisation
    assert not np.allclose(permuted.model.fc.weight.detach(), baseline.model.fc.weight.detach())
    again = fit_permuted_label_model(tmp_path / "p.pt", config, x, y, ids, seed=0)
    assert again.reused
    assert not fit_permuted_label_model(tmp_path / "p.pt", config, x, y, ids, seed=1).reused
