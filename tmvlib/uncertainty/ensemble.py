"""Deep ensembles (Lakshminarayanan et al. 2017) on one shared, frozen pretrained trunk.

Members differ in their seed: the initial head weights, the data order, the dropout masks and
which cached augmented view each image shows. The frozen stages are the same ImageNet weights
for every member, so their outputs are computed once and shared; diversity therefore comes from
the trainable top of the network only, which is cheaper but less diverse than ensembles trained
end to end (say so where results are reported). Member 0 has exactly the baseline's config, so
chapter 02's checkpoint is reused for it.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from ..models.checkpoint import reusable_checkpoint
from ..models.classifier import build_classifier
from ..models.feature_cache import bank_outputs
from ..models.fit import FittedModel, fit_or_load, model_config
from ..models.train import TrainConfig, build_train_cache, frozen_bank


def member_config(base: TrainConfig, member: int) -> TrainConfig:
    """Member ``m`` trains with seed ``base.seed + m`` on the views of ``base.seed``."""
    return replace(base, seed=base.seed + member, cache_seed=None if member == 0 else base.seed)


def fit_ensemble(n_members: int, checkpoint_dir: Path, backbone: str, weights: str,
                 image_size: int, dropout: float, frozen_stages: int, train: TrainConfig,
                 split_hash: str, train_images: torch.Tensor, train_labels: np.ndarray,
                 val_images: torch.Tensor, val_labels: np.ndarray,
                 member0_checkpoint: Path | None = None, progress: bool = True) -> list[FittedModel]:
    """Train (or reuse) the ``n_members`` members of an ensemble that share one pretrained, partly
    frozen trunk (the deep-ensemble recipe of Lakshminarayanan et al. 2017 applied to the trainable
    layers only); returns them in member order.

    Args:
        n_members: members M, member 0 included.
        checkpoint_dir: where member m >= 1 is saved as ``ensemble_<m>.pt`` (and reused when its
            checkpoint matches the config).
        backbone, weights, image_size, dropout, frozen_stages: the classifier, as in
            :func:`tmvlib.models.classifier.build_classifier`; the same for every member.
        train: the training config of member 0; member m trains with seed ``train.seed + m`` on
            the augmented views of ``train.seed`` (:func:`member_config`).
        split_hash: hash of the training/validation images, part of each checkpoint's key.
        train_images, val_images: uint8 radiographs (N, 1, H, W); train_labels, val_labels: (N,)
            in {0, 1}.
        member0_checkpoint: chapter 02's baseline, used as member 0 when given (else
            ``ensemble_0.pt``).
        progress: show progress bars.

    Returns:
        list of M :class:`tmvlib.models.fit.FittedModel`.

    Frozen-stage outputs are computed once, and only when some member must be trained. Members
    train one after another: on a 2-core CPU each already uses both cores. Only the unfrozen part
    differs between members, so this is a partial (last-layers) ensemble, not a deep ensemble of
    independently trained networks.
    """
    trunk, info = build_classifier(backbone, weights, dropout=dropout, frozen_stages=frozen_stages)
    paths = [member0_checkpoint if m == 0 and member0_checkpoint else
             Path(checkpoint_dir) / f"ensemble_{m}.pt" for m in range(n_members)]
    configs = [member_config(train, m) for m in range(n_members)]
    caches: tuple[torch.Tensor, torch.Tensor] | None = None
    members = []
    for path, config in zip(paths, configs):
        key = model_config(backbone, weights, image_size, dropout, frozen_stages, config, split_hash, info)
        if caches is None and frozen_stages > 0 and not reusable_checkpoint(path, key):
            caches = (build_train_cache(trunk, info, train_images, replace(config, cache_seed=train.seed),
                                        progress),
                      frozen_bank(trunk, info, val_images, config, progress, "caching validation features"))
        members.append(fit_or_load(path, backbone, weights, image_size, dropout, frozen_stages, config,
                                   split_hash, train_images, train_labels, val_images, val_labels,
                                   progress=progress, train_cache=caches[0] if caches else None,
                                   val_cache=caches[1] if caches else None))
    return members


def member_logits(members: list[FittedModel], bank: torch.Tensor) -> np.ndarray:
    """Logits ``(M, N)`` of every member on shared frozen-stage outputs ``bank``."""
    return np.stack([bank_outputs(m.model, bank, "logits").numpy() for m in members])
