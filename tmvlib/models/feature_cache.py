"""Frozen-trunk feature caching: run the frozen stages once, train only what follows.

With ``frozen_stages=k`` the first k stages never change during training, so their output for
a given input is a constant. Computing it once per (augmented) image turns each epoch into a
pass through the trainable stages only, several times cheaper on a CPU.
"""
from __future__ import annotations

import contextlib
from typing import Callable

import torch
from ..progress import progress_bar

from .classifier import XrayClassifier


def run_stages(model: XrayClassifier, x: torch.Tensor, start: int, stop: int | None = None) -> torch.Tensor:
    """Apply trunk stages ``spec.stages[start:stop]`` in order (their modules are sequential)."""
    for stage in model.spec.stages[start:stop]:
        for path in stage:
            x = model.trunk.get_submodule(path)(x)
    return x


def frozen_prefix(model: XrayClassifier, x: torch.Tensor) -> torch.Tensor:
    """(B,3,H,W) -> output of the frozen stages (``x`` itself when nothing is frozen)."""
    return run_stages(model, x, 0, model.frozen_stages)


def trainable_suffix(model: XrayClassifier, h: torch.Tensor) -> torch.Tensor:
    """Output of the frozen stages -> (B,) logits through the remaining stages and the head."""
    return model.head(suffix_features(model, h))


def suffix_features(model: XrayClassifier, h: torch.Tensor) -> torch.Tensor:
    """Output of the frozen stages -> (B, F) pooled features (the input of the head)."""
    return model.pool(run_stages(model, h, model.frozen_stages)).flatten(1)


@torch.no_grad()
def bank_outputs(model: XrayClassifier, bank: torch.Tensor, what: str = "logits",
                 batch_size: int = 256, autocast: Callable | None = None) -> torch.Tensor:
    """Run the trainable part of ``model`` (eval mode) over cached frozen-stage outputs.

    A bfloat16 bank was cached under bf16 autocast (:func:`cache_frozen_features`); without an
    explicit ``autocast`` its suffix runs under bf16 autocast too, the precision the bank and
    the model's own predictions were made in (an fp32 conv cannot take a bf16 input).

    Returns:
        ``(N,)`` logits (``what="logits"``) or ``(N, F)`` pooled features (``what="features"``),
        float32 on the CPU.
    """
    model.eval()
    device = next(model.parameters()).device
    step = trainable_suffix if what == "logits" else suffix_features
    if autocast is None and bank.dtype == torch.bfloat16:
        def autocast():
            return torch.autocast(device.type, dtype=torch.bfloat16)
    out = []
    for start in range(0, len(bank), batch_size):
        h = bank[start:start + batch_size].to(device)
        with (autocast or contextlib.nullcontext)():
            out.append(step(model, h).float().cpu())
    return torch.cat(out)


@torch.no_grad()
def cache_frozen_features(model: XrayClassifier, images: torch.Tensor,
                          to_input: Callable[[torch.Tensor], torch.Tensor], batch_size: int = 64,
                          autocast: Callable | None = None, progress: bool = True,
                          desc: str = "caching frozen features") -> torch.Tensor:
    """Frozen-stage outputs for ``images`` (uint8 (N,1,H,W)); returned on the CPU as bfloat16
    when ``autocast`` runs in bf16 (half the memory), else float32."""
    model.eval()
    chunks = []
    for start in progress_bar(range(0, len(images), batch_size), progress, desc=desc, leave=False):
        batch = to_input(images[start:start + batch_size])
        with (autocast or contextlib.nullcontext)():
            chunks.append(frozen_prefix(model, batch).cpu())
    return torch.cat(chunks)
