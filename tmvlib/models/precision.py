"""Device and numeric precision: bf16 autocast + channels_last where the hardware supports it.

On CPUs with AVX-512 BF16 / AMX, oneDNN runs bf16 convolutions several times faster than fp32;
on CUDA, autocast uses bf16 where supported, else fp16. Everything falls back to fp32 cleanly.
"""
from __future__ import annotations

import contextlib
from typing import Callable

import torch

PRECISIONS = ("auto", "fp32", "bf16")


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
