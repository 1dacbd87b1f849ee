"""MC-dropout keep-masks keyed by the seed and the image: one draw per image, whatever its batch.

The classifier's only dropout sits on the pooled features of the map the head pools (``F = C``
channels), so chapter 03 (MC-dropout predictions on pooled features), chapter 06 (MC-dropout
Grad-CAM on the channels of that map) and the trust card (both, for one image) apply the same
masks: image ``image_id`` gets ``T`` Bernoulli(1 - p) keep-masks drawn from a private
``torch.Generator`` seeded by ``sha256(seed, image_id)``. Its draws do not depend on which batch,
chunk or shard it falls in, nor on the other images, so a test image's card reproduces chapter
03's row, and a shard of chapter 06 the unsharded pass.
"""
from __future__ import annotations

import hashlib
from collections.abc import Sequence

import torch


def image_seed(seed: int, image_id: str) -> int:
    """The generator seed of one image: 63 bits of ``sha256("<seed>|<image_id>")``."""
    digest = hashlib.sha256(f"{int(seed)}|{image_id}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


def keep_masks(image_ids: Sequence[str], n_samples: int, n_features: int, p: float, seed: int) -> torch.Tensor:
    """bool ``(N, T, F)``: for each image of ``image_ids``, ``T = n_samples`` keep-masks over
    ``n_features`` (each entry kept with probability ``1 - p``: ``u >= p``, ``u ~ U[0, 1)``)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout p must be in [0, 1], got {p}")
    out = torch.empty((len(image_ids), n_samples, n_features), dtype=torch.bool)
    for i, image_id in enumerate(image_ids):
        generator = torch.Generator().manual_seed(image_seed(seed, str(image_id)))
        out[i] = torch.rand((n_samples, n_features), generator=generator) >= p
    return out
