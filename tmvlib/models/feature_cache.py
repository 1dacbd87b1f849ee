"""Frozen-trunk feature caching: run the frozen stages once, train only what follows.

With ``frozen_stages=k`` the first k stages never change during training, so their output for
a given input is a constant. Computing it once per (augmented) image turns each epoch into a
pass through the trainable stages only, several times cheaper on a CPU.

Where a cache lives: in memory up to ``TMV_CACHE_RAM_GB`` (default 4 GiB per cache), beyond it in
a memory-mapped file in ``TMV_CACHE_DIR`` (default: the system's temporary folder), unlinked as
soon as it is mapped, so it disappears with its tensor. The full release's training views
(about 88 KB per image per view for Lite0 at 224 px: ~20 GB) thus need disk, not memory; the
values are the same either way (:func:`allocate_bank`).
"""
from __future__ import annotations

import contextlib
import math
import os
import tempfile
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

    A bfloat16 bank (a training cache, made under bf16 autocast by :func:`cache_frozen_features`)
    runs its suffix under bf16 autocast too without an explicit ``autocast``, the precision it was
    made in (an fp32 conv cannot take a bf16 input). Banks of evaluated images are float32
    (:func:`tmvlib.models.train.evaluation_bank`), and so is their suffix.

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


CACHE_RAM_ENV, CACHE_DIR_ENV = "TMV_CACHE_RAM_GB", "TMV_CACHE_DIR"
DEFAULT_CACHE_RAM_GB = 4.0


def allocate_bank(shape: tuple[int, ...], dtype: torch.dtype, sample: torch.Tensor | None = None) -> torch.Tensor:
    """An uninitialised CPU tensor for a feature cache: in memory when it needs at most
    ``TMV_CACHE_RAM_GB`` GiB (default 4), else backed by an unlinked memory-mapped file in
    ``TMV_CACHE_DIR`` (pages the kernel writes out and reclaims, so the process's own memory
    stays flat however many images there are).

    ``sample``: a batch (B, *shape[-k:]) whose memory layout the trailing k dimensions keep (a
    channels-last batch gives a channels-last cache, as ``torch.cat`` of such batches would; the
    layout decides which convolution kernels later read the cache, and so the last bits of their
    results).

    Raises:
        ValueError: ``TMV_CACHE_RAM_GB`` is not a number.
    """
    numel = math.prod(shape)
    nbytes = numel * torch.empty((), dtype=dtype).element_size()
    raw = os.environ.get(CACHE_RAM_ENV, str(DEFAULT_CACHE_RAM_GB))
    try:
        limit = float(raw) * 1024**3
    except ValueError:
        raise ValueError(f"{CACHE_RAM_ENV} must be a number of GiB, got {raw!r}") from None
    if nbytes <= limit or numel == 0:
        flat = torch.empty(numel, dtype=dtype)
    else:
        fd, path = tempfile.mkstemp(prefix="tmv-bank-", suffix=".bin", dir=os.environ.get(CACHE_DIR_ENV))
        os.close(fd)
        try:
            flat = torch.from_file(path, shared=True, size=numel, dtype=dtype)
        finally:
            os.unlink(path)
    return flat.as_strided(shape, _strides(shape, sample))


def _strides(shape: tuple[int, ...], sample: torch.Tensor | None) -> tuple[int, ...]:
    """Row-major strides for ``shape``, except that the trailing dimensions of a dense ``sample``
    keep its per-item layout."""
    inner = tuple(sample.shape[1:]) if sample is not None else ()
    dense = sample is not None and (sample.is_contiguous() or (sample.dim() == 4 and sample.is_contiguous(
        memory_format=torch.channels_last)))
    k = len(inner) if dense and tuple(shape[len(shape) - len(inner):]) == inner else 0
    strides = list(sample.stride()[1:]) if k else []
    step = math.prod(shape[len(shape) - k:]) if k else 1
    for size in reversed(shape[:len(shape) - k]):
        strides.insert(0, step)
        step *= size
    return tuple(strides)


@torch.no_grad()
def cache_frozen_features(model: XrayClassifier, images: torch.Tensor,
                          to_input: Callable[[torch.Tensor], torch.Tensor], batch_size: int = 64,
                          autocast: Callable | None = None, progress: bool = True,
                          desc: str = "caching frozen features", out: torch.Tensor | None = None) -> torch.Tensor:
    """Frozen-stage outputs for ``images`` (uint8 (N,1,H,W)); returned on the CPU as bfloat16
    when ``autocast`` runs in bf16 (half the memory), else float32, in a tensor from
    :func:`allocate_bank` (or written into ``out``, (N, ...) of the right dtype, when given)."""
    model.eval()
    for start in progress_bar(range(0, len(images), batch_size), progress, desc=desc, leave=False):
        batch = to_input(images[start:start + batch_size])
        with (autocast or contextlib.nullcontext)():
            chunk = frozen_prefix(model, batch).cpu()
        if out is None:
            out = allocate_bank((len(images), *chunk.shape[1:]), chunk.dtype, chunk)
        out[start:start + len(chunk)] = chunk
    if out is None:
        raise ValueError("no images to cache")
    return out
