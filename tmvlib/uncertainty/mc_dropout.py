"""MC dropout (Gal & Ghahramani 2016) computed in the head only.

The classifier's only dropout sits after global average pooling, right before the linear
layer, so a stochastic pass differs from the deterministic one only in the head:
``logit_t = w · (m_t ⊙ f) / (1 - p) + b`` for pooled features ``f`` and a Bernoulli(1 - p) mask
``m_t``. The trunk (and its BatchNorm, in eval mode) runs once; T passes cost T dot products.
``tests/uncertainty/test_mc_dropout.py`` checks this equals T full forward passes with the same
masks.
"""
from __future__ import annotations

import torch

from ..models.classifier import XrayClassifier


def feature_keep_masks(n_samples: int, n_images: int, n_features: int, p: float, seed: int) -> torch.Tensor:
    """Seeded Bernoulli(1 - p) keep-masks, one per sample and image: bool ``(T, N, F)``."""
    generator = torch.Generator().manual_seed(seed)
    return torch.rand((n_samples, n_images, n_features), generator=generator) >= p


@torch.no_grad()
def mc_dropout_logits(model: XrayClassifier, features: torch.Tensor, n_samples: int = 30,
                      seed: int = 0, chunk: int = 512) -> torch.Tensor:
    """Stochastic logits of the head for pooled trunk features.

    Args:
        model: a classifier whose head is ``dropout -> fc`` (``model.dropout``, ``model.fc``).
        features: pooled features ``(N, F)`` from the deterministic trunk (eval mode).
        n_samples: T, the number of dropout samples.
        seed: seeds the masks; image ``i`` of chunk ``c`` always gets the same masks.

    Returns:
        float32 logits ``(T, N)``.
    """
    p = float(model.dropout.p)
    weight = model.fc.weight.detach().float()[0]            # (F,)
    bias = model.fc.bias.detach().float()[0]
    features = features.float()
    out = torch.empty((n_samples, len(features)))
    for index, start in enumerate(range(0, len(features), chunk)):
        block = features[start:start + chunk]               # (n, F)
        masks = feature_keep_masks(n_samples, len(block), block.shape[1], p, seed + index)
        scale = 1.0 / (1.0 - p) if p < 1 else 0.0
        out[:, start:start + chunk] = (masks * (block * weight * scale)).sum(-1) + bias
    return out
