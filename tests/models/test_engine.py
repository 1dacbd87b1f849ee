"""Forward engines (tmvlib.models.engine): every engine computes the same function as eager
PyTorch on a small model, exported graphs are cached by the model's weights, and ``auto`` falls
back with one log line when an engine cannot load."""
from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
from torch import nn

from tmvlib.models import engine as engines
from tmvlib.models.engine import build_engine, export_onnx, module_digest


@pytest.fixture(scope="module")
def small():
    """A seeded efficientnet_lite0 classifier (ImageNet trunk) and a batch of 3 inputs at 64 px."""
    from tmvlib.models import build_classifier

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model, _ = build_classifier("efficientnet_lite0")
        x = torch.randn(3, 3, 64, 64)
    return model.eval(), x


@pytest.mark.parametrize("name", ["torch", "onnxruntime", "openvino"])
def test_engines_match_eager_logits(small, tmp_path, name):
    model, x = small
    with torch.inference_mode():
        expected = model(x).reshape(3, -1)
    engine = build_engine(model, (64, 64), name, threads=1, cache_dir=tmp_path)
    assert engine.name == name
    got = engine(x)
    assert got.shape == expected.shape and got.dtype == torch.float32
    np.testing.assert_allclose(got.numpy(), expected.numpy(), atol=1e-3, rtol=0)
    assert engine(x[:1]).shape == (1, expected.shape[1])  # dynamic batch


def test_headless_module_gives_pooled_features(small, tmp_path):
    """Score-CAM's extra heads score pooled features: a module without its head exports too."""
    model, x = small
    import copy

    headless = copy.deepcopy(model)
    headless.fc = nn.Identity()
    with torch.inference_mode():
        expected = headless(x)
    got = build_engine(headless, (64, 64), "openvino", threads=1, cache_dir=tmp_path)(x)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got.numpy(), expected.numpy(), atol=1e-3, rtol=0)


def test_exported_graph_is_cached_per_weights_and_size(small, tmp_path):
    model, _ = small
    first = export_onnx(model, (64, 64), tmp_path)
    stamp = first.stat().st_mtime_ns
    assert export_onnx(model, (64, 64), tmp_path) == first and first.stat().st_mtime_ns == stamp
    assert export_onnx(model, (96, 96), tmp_path) != first
    import copy

    changed = copy.deepcopy(model)
    with torch.no_grad():
        changed.fc.bias += 1.0
    assert module_digest(changed) != module_digest(model)
    assert export_onnx(changed, (64, 64), tmp_path) != first


def test_auto_falls_back_with_one_log_line(small, tmp_path, monkeypatch, caplog):
    model, x = small

    def unavailable(*_, **__):
        raise ImportError("no module named 'openvino'")
    monkeypatch.setattr(engines, "OpenVINOEngine", unavailable)
    with caplog.at_level(logging.WARNING, logger="tmvlib.engine"):
        engine = build_engine(model, (64, 64), "auto", threads=1, cache_dir=tmp_path)
    assert engine.name == "onnxruntime"
    assert [r.getMessage() for r in caplog.records if "openvino is unavailable" in r.getMessage()]


def test_unknown_engine_is_named():
    with pytest.raises(ValueError, match="engine must be one of"):
        build_engine(nn.Linear(2, 1), (1, 1), "tensorrt")
