"""Device and numeric precision: bf16 autocast + channels_last where the hardware supports it.

On CPUs with AVX-512 BF16 / AMX, oneDNN runs bf16 convolutions several times faster than fp32;
on CUDA, autocast uses bf16 where supported, else fp16. Everything falls back to fp32 cleanly.

bf16 is a *training* speed-up. Every evaluation forward pass (predictions, the frozen-stage
outputs they are computed from, features) computes the trained model in float32
(:data:`EVALUATION_PRECISION`), so a checkpoint gives the same predictions on every host: on the
default run's 401 validation, test and localisation images, bf16 autocast moved the logits by up
to 0.54 (mean 0.089) and changed 5 labels at the decision threshold (README, issue 17).
"""
from __future__ import annotations

import contextlib
from typing import Callable

import torch

PRECISIONS = ("auto", "fp32", "bf16")
EVALUATION_PRECISION = "fp32"  # the precision of every evaluation forward pass (module docstring)


def resolve_device(device: str = "auto") -> torch.device:
    """``auto`` -> CUDA when available, else CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def resolve_precision(precision: str, device: torch.device) -> str:
    """``auto`` -> ``bf16`` where the hardware computes in bf16 natively, else ``fp32``."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision != "auto":
        return precision
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    from ..fingerprint import bf16_cpu_fast, bf16_cpu_supported

    return "bf16" if bf16_cpu_fast() and bf16_cpu_supported() else "fp32"


def autocast_factory(device: torch.device, precision: str) -> Callable[[], contextlib.AbstractContextManager]:
    """A zero-argument callable returning a fresh autocast context (or a null one for fp32)."""
    if precision == "bf16":
        return lambda: torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext
