"""MC dropout (Gal & Ghahramani 2016) computed in the head only.

The classifier's only dropout sits after global average pooling, right before the linear
layer, so a stochastic pass differs from the deterministic one only in the head:
``logit_t = w · (m_t ⊙ f) / (1 - p) + b`` for pooled features ``f`` and a Bernoulli(1 - p) mask
``m_t`` (:mod:`tmvlib.models.dropout_masks`: one draw per image, keyed by the seed and its id).
The trunk (and its BatchNorm, in eval mode) runs once; T passes cost T dot products.
``tests/uncertainty/test_mc_dropout.py`` checks this equals T full forward passes with the same
masks.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch

from ..models.classifier import XrayClassifier
from ..models.dropout_masks import keep_masks


@torch.no_grad()
def mc_dropout_logits(model: XrayClassifier, features: torch.Tensor, image_ids: Sequence[str],
                      n_samples: int = 30, seed: int = 0, chunk: int = 512) -> torch.Tensor:
    """Stochastic logits of the head for pooled trunk features.

    Args:
        model: a classifier whose head is ``dropout -> fc`` (``model.dropout``, ``model.fc``).
        features: pooled features ``(N, F)`` from the deterministic trunk (eval mode).
        image_ids: the N images' ids: image ``i`` gets the masks
            :func:`tmvlib.models.dropout_masks.keep_masks` draws for ``(seed, image_ids[i])``,
            the same in every chapter and on the card, whatever the chunk it falls in.
        n_samples: T, the number of dropout samples.

    Returns:
        float32 logits ``(T, N)``.
    """
    if len(image_ids) != len(features):
        raise ValueError(f"{len(image_ids)} image ids for {len(features)} feature rows")
    p = float(model.dropout.p)
    weight = model.fc.weight.detach().float()[0]            # (F,)
    bias = model.fc.bias.detach().float()[0]
    features = features.float()
    scale = 1.0 / (1.0 - p) if p < 1 else 0.0
    out = torch.empty((n_samples, len(features)))
    for start in range(0, len(features), chunk):
        block = features[start:start + chunk]               # (n, F)
        masks = keep_masks(list(image_ids[start:start + chunk]), n_samples, block.shape[1], p, seed)  # (n, T, F)
        out[:, start:start + chunk] = (masks * (block * weight * scale)[:, None, :]).sum(-1).T + bias
    return out
