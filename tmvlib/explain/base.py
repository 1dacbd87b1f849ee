"""Shared pieces of the CAM methods: target-layer capture, upsampling, [0, 1] normalisation,
batching helpers and the single-logit wrapper that third-party CAM libraries expect.

Conventions used by every method in ``tmvlib.explain``:
- the model is an ``XrayClassifier``-like module, ``forward(x (B,3,H,W)) -> (B,)`` logits;
- the explained output is the positive logit (or a function of it);
- heatmaps are float32 numpy arrays at input resolution, (H, W) or (B, H, W), in [0, 1]:
  bilinear upsampling (``align_corners=False``, i.e. pixel centres, the convention of
  ``F.interpolate``, captum and OpenCV) then min-max normalisation of each map; a constant map
  (nothing to show) normalises to all zeros rather than dividing by zero.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

EPS = 1e-12


def resolve_layer(model: nn.Module, layer: nn.Module | str | None = None) -> nn.Module:
    """The CAM target layer: ``layer`` itself, ``model.get_submodule(layer)`` for a path, or
    ``model.cam_target_layer`` (the activated final feature map, e.g. ``trunk.bn2``) for None."""
    if layer is None:
        return model.cam_target_layer
    if isinstance(layer, str):
        return model.get_submodule(layer)
    return layer


def as_batch(x: torch.Tensor) -> torch.Tensor:
    """(3,H,W) or (B,3,H,W) float input -> (B,3,H,W)."""
    if x.ndim == 3:
        x = x.unsqueeze(0)
    if x.ndim != 4:
        raise ValueError(f"expected an input (3,H,W) or (B,3,H,W), got {tuple(x.shape)}")
    return x


@contextlib.contextmanager
def capture_output(layer: nn.Module) -> Iterator[dict[str, torch.Tensor]]:
    """Context manager: while open, every forward of ``layer`` stores its output tensor in the
    yielded dict under ``"out"`` (the last call wins). The hook is removed on exit."""
    store: dict[str, torch.Tensor] = {}

    def hook(_module, _inputs, output):
        store["out"] = output

    handle = layer.register_forward_hook(hook)
    try:
        yield store
    finally:
        handle.remove()


def layer_activations(model: nn.Module, x: torch.Tensor,
                      layer: nn.Module | str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """One no-grad eval forward of ``x`` (B,3,H,W) -> (logits (B,), activations (B,C,h,w)) of the
    target layer. The model's train/eval mode is left as it was found."""
    target = resolve_layer(model, layer)
    with evaluating(model), torch.inference_mode(), capture_output(target) as store:
        logits = model(as_batch(x))
    return logits, store["out"]


@contextlib.contextmanager
def evaluating(model: nn.Module) -> Iterator[nn.Module]:
    """Put ``model`` in eval mode for the block and restore its previous mode afterwards."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def upsample(maps: torch.Tensor, size: tuple[int, int], align_corners: bool = False) -> torch.Tensor:
    """Bilinear resize of the last two dims: (..., h, w) -> (..., H, W), float32."""
    lead = maps.shape[:-2]
    flat = maps.reshape(-1, 1, *maps.shape[-2:]).float()
    out = F.interpolate(flat, size=size, mode="bilinear", align_corners=align_corners)
    return out.reshape(*lead, *size)


def normalize_maps(maps: torch.Tensor) -> torch.Tensor:
    """Min-max normalise each map over its last two dims to [0, 1]: (..., H, W) -> same shape.
    Constant maps (max - min <= 1e-12, e.g. a ReLU-ed map that is all zero) become zeros."""
    flat = maps.reshape(*maps.shape[:-2], -1)
    lo = flat.amin(-1, keepdim=True)
    span = flat.amax(-1, keepdim=True) - lo
    out = torch.where(span > EPS, (flat - lo) / span.clamp_min(EPS), torch.zeros_like(flat))
    return out.reshape(maps.shape)


def to_heatmaps(low_res: torch.Tensor, size: tuple[int, int], normalize: bool = True) -> np.ndarray:
    """Low-resolution maps (..., h, w) -> float32 numpy (..., H, W): bilinearly upsampled to the
    input size and (by default) min-max normalised to [0, 1]."""
    maps = upsample(low_res.detach(), size)
    if normalize:
        maps = normalize_maps(maps)
    return maps.cpu().numpy().astype(np.float32, copy=False)


def chunks(n: int, size: int) -> Iterator[slice]:
    """Consecutive slices covering range(n) in pieces of at most ``size``."""
    if size < 1:
        raise ValueError(f"chunk size must be >= 1, got {size}")
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))


class SingleLogit(nn.Module):
    """(B,3,H,W) -> (B,1): the model's positive logit as a one-class output, so libraries that
    index ``output[:, target]`` (captum, pytorch-grad-cam, torch-cam) can use target 0."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) -> (B, 1): the model's single logit as a one-class output."""
        return self.model(x).reshape(-1, 1)
