import numpy as np
import pytest
import torch

from tmvlib.models import build_classifier
from tmvlib.models.feature_cache import frozen_prefix, trainable_suffix
from tmvlib.models.train import TrainConfig, seed_everything, train_classifier
from tmvlib.models.training_data import TrainingData

from tmv_testing import toy_data


FAST = dict(epochs=3, batch_size=16, lr=3e-3, patience=5, augment=False, precision="fp32",
            channels_last=False)


@pytest.fixture(scope="module")
def data():
    return toy_data(), toy_data(32, seed=1)


def test_frozen_prefix_plus_suffix_equals_forward():
    model, info = build_classifier("efficientnet_lite0", weights="none", frozen_stages=4)
    x = torch.randn(2, 3, 64, 64)
    model.eval()
    assert torch.allclose(trainable_suffix(model, frozen_prefix(model, x)), model(x), atol=1e-5)


@pytest.mark.parametrize("cache", [True, False])
def test_training_learns_and_is_deterministic(data, cache):
    (x, y), (xv, yv) = data
    histories = []
    for _ in range(2):
        seed_everything(0)
        model, info = build_classifier("efficientnet_lite0", frozen_stages=6)
        result = train_classifier(model, info, TrainingData(x, y, xv, yv), TrainConfig(cache_features=cache, **FAST),
                                  progress=False)
        histories.append(result.history)
    assert histories[0][["train_loss", "val_auroc"]].equals(histories[1][["train_loss", "val_auroc"]])
    assert result.best_val_auroc > 0.9
    assert result.history["val_auroc"].max() == result.best_val_auroc


def test_frozen_parameters_do_not_change(data):
    (x, y), (xv, yv) = data
    model, info = build_classifier("efficientnet_lite0", frozen_stages=6)
    stem_before = model.trunk.conv_stem.weight.clone()
    head_before = model.fc.weight.clone()
    train_classifier(model, info, TrainingData(x, y, xv, yv), TrainConfig(**FAST), progress=False)
    assert torch.equal(model.trunk.conv_stem.weight, stem_before)
    assert not torch.equal(model.fc.weight, head_before)


def test_nan_loss_stops_training_with_a_message(data):
    (x, y), (xv, yv) = data
    model, info = build_classifier("efficientnet_lite0", frozen_stages=6)
    model.fc.weight.data.fill_(float("nan"))
    with pytest.raises(FloatingPointError, match="non-finite training loss .* at epoch 1, batch 0"):
        train_classifier(model, info, TrainingData(x, y, xv, yv), TrainConfig(**FAST), progress=False)


def test_single_class_splits_are_refused(data):
    (x, y), (xv, yv) = data
    model, info = build_classifier("efficientnet_lite0", frozen_stages=6)
    with pytest.raises(ValueError, match="validation split holds a single class"):
        train_classifier(model, info, TrainingData(x, y, xv, np.zeros_like(yv)), TrainConfig(**FAST), progress=False)
    with pytest.raises(ValueError, match="training split holds a single class"):
        train_classifier(model, info, TrainingData(x, np.ones_like(y), xv, yv), TrainConfig(**FAST), progress=False)


def test_bank_outputs_runs_a_bf16_bank_in_bf16():
    """A bank cached under bf16 autocast (AVX512-BF16 / AMX CPUs pick bf16 on "auto") feeds the
    suffix without an explicit autocast: it used to fail with a bf16 input to an fp32 conv."""
    from tmvlib.models.feature_cache import bank_outputs

    model, _ = build_classifier("efficientnet_lite0", weights="none", frozen_stages=6)
    model.eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        bank = frozen_prefix(model, x)
        expected = model(x).float()
    assert bank.dtype == torch.bfloat16
    logits = bank_outputs(model, bank)
    assert logits.dtype == torch.float32 and logits.shape == (2,)
    torch.testing.assert_close(logits, expected.reshape(-1), atol=1e-2, rtol=1e-2)


def test_an_evaluation_bank_is_float32_whatever_the_training_precision():
    """A model trained in bf16 is evaluated in float32: the bank of evaluated images is float32
    and its suffix gives the model's float32 logits (``predict_logits``' default)."""
    from tmvlib.models.feature_cache import bank_outputs
    from tmvlib.models.train import evaluation_bank, predict_logits

    model, info = build_classifier("efficientnet_lite0", weights="none", frozen_stages=6)
    images = torch.randint(0, 256, (4, 1, 64, 64), dtype=torch.uint8)
    bank = evaluation_bank(model, info, images, TrainConfig(**{**FAST, "precision": "bf16"}), progress=False)
    assert bank.dtype == torch.float32
    np.testing.assert_allclose(bank_outputs(model, bank).numpy(), predict_logits(model, info, images, progress=False),
                               atol=1e-4)
