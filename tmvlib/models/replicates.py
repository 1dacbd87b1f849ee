"""Replicates of the baseline: the same training recipe for other seeds and backbones.

A replicate is the baseline of chapter 02 retrained with another seed (everything trainable:
head initialisation, data order, dropout masks, augmented views) and/or another backbone with its
own packaged ImageNet weights, at that backbone's native input size. The replication chapter
evaluates every replicate the same way to show which findings survive another seed and another
architecture; chapters 02-08 keep explaining the baseline alone.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..data.tensors import load_image_tensor
from ..parallel import TaskPlacement, run_tasks

from .backbones import get_backbone
from .checkpoint import reusable_checkpoint
from .feature_cache import bank_outputs
from .fit import FittedModel, fit_or_load
from .recipe import ModelRecipe, TrainingData
from .train import evaluation_bank


@dataclass(frozen=True)
class Replicate:
    """One configuration: ``backbone`` (a registry name), training ``seed`` and input side
    ``image_size`` in pixels."""

    backbone: str
    seed: int
    image_size: int

    @property
    def label(self) -> str:
        """``"efficientnet_lite1 · seed 2"``."""
        return f"{self.backbone} · seed {self.seed}"

    def recipe(self, baseline: ModelRecipe) -> ModelRecipe:
        """The baseline's recipe with this replicate's backbone, input size and training seed
        (everything trainable and its own augmented views: ``cache_seed`` None)."""
        return replace(baseline.with_train(seed=self.seed, cache_seed=None), backbone=self.backbone,
                       image_size=self.image_size)

    def checkpoint(self, directory: Path) -> Path:
        """``<directory>/replicate_<backbone>_<size>_seed<seed>.pt``."""
        return Path(directory) / f"replicate_{self.backbone}_{self.image_size}_seed{self.seed}.pt"


def replicate_grid(backbones: Sequence[str], seeds: Sequence[int],
                   image_size: int | None = None) -> list[Replicate]:
    """Every backbone x seed, backbone-major, at ``image_size`` or (None) each backbone's
    native input size (``BackboneSpec.input_size``: 224, 240 and 260 px for EfficientNet-Lite0/1/2).

    Raises:
        UnknownBackboneError: a backbone not in the registry. ValueError: no backbone or seed,
            or a repeated one.
    """
    if not backbones or not seeds:
        raise ValueError("a replication needs at least one backbone and one seed")
    for name, values in (("backbones", backbones), ("seeds", seeds)):
        if len(set(values)) != len(values):
            raise ValueError(f"{name} repeat a value: {list(values)}")
    return [Replicate(b, int(s), int(image_size or get_backbone(b).input_size)) for b in backbones for s in seeds]


def baseline_replicate(grid: Sequence[Replicate], recipe: ModelRecipe) -> Replicate | None:
    """The replicate of ``grid`` with the baseline ``recipe``'s backbone, seed and size (None if absent)."""
    return next((r for r in grid if (r.backbone, r.seed, r.image_size) ==
                 (recipe.backbone, recipe.train.seed, recipe.image_size)), None)


def fit_replicate(replicate: Replicate, checkpoint: Path, recipe: ModelRecipe, data: TrainingData, *,
                  progress: bool = True, baseline_checkpoint: Path | None = None) -> FittedModel:
    """Train (or reuse, when ``checkpoint`` holds the same config) one replicate with the
    baseline's ``recipe`` (:meth:`Replicate.recipe`: its backbone, size and seed); images uint8
    (N,1,S,S) at ``replicate.image_size``. ``baseline_checkpoint``: chapter 02's checkpoint, used
    instead when it holds exactly this replicate's config (it is only read, never retrained)."""
    _check_size(replicate, data.train_images, "train")
    _check_size(replicate, data.val_images, "validation")
    if baseline_checkpoint is not None and reusable_checkpoint(baseline_checkpoint, _key(replicate, recipe)):
        checkpoint = baseline_checkpoint
    return fit_or_load(checkpoint, replicate.recipe(recipe), data, progress=progress)


def replicate_needs_training(replicate: Replicate, checkpoint: Path, recipe: ModelRecipe,
                             baseline_checkpoint: Path | None = None) -> bool:
    """False when ``checkpoint`` or ``baseline_checkpoint`` already holds exactly this replicate's
    config (:func:`fit_replicate` would reuse it), True when it must be trained."""
    key = _key(replicate, recipe)
    return not any(path is not None and reusable_checkpoint(path, key) for path in (checkpoint, baseline_checkpoint))


def train_replicate(replicate: Replicate, checkpoint: Path, recipe: ModelRecipe, train_set: pd.DataFrame,
                    selection_set: pd.DataFrame, threads: int | None = None) -> None:
    """Train one replicate where it runs (a Ray task): decode the ``path`` column of ``train_set``
    (its training images) and ``selection_set`` (the images that stop it early) at the
    replicate's size, as a worker on another machine must, and :func:`fit_replicate` on
    ``threads`` torch threads (labels: their ``label`` column). The checkpoint it writes is the
    result."""
    if threads:
        torch.set_num_threads(threads)
    roles = {"training": train_set, "selection": selection_set}
    images = {role: load_image_tensor(frame, replicate.image_size, progress=False) for role, frame in roles.items()}
    data = TrainingData.from_roles(roles, images)
    fit_replicate(replicate, checkpoint, recipe, data, progress=False)


def train_replicates_as_tasks(grid: Sequence[Replicate], checkpoint_dir: Path, recipe: ModelRecipe,
                              train_set: pd.DataFrame, selection_set: pd.DataFrame, *,
                              baseline_checkpoint: Path | None = None,
                              placement: TaskPlacement = TaskPlacement("ray")) -> list[Path]:
    """Train every replicate of ``grid`` that no checkpoint holds yet (:func:`replicate_needs_training`)
    as independent tasks (:func:`tmvlib.parallel.run_tasks` under ``placement``: Ray tasks of
    ``task_cpus`` CPUs, and torch threads, and ``task_gpus`` GPUs each; ``"local"`` one after
    another here), each :func:`train_replicate` decoding its own images. ``checkpoint_dir`` must
    be on storage every worker can reach. Returns the checkpoints trained; :func:`fit_replicate`
    then reuses them. A replicate equals one trained in this process when ``task_cpus`` equals
    this process's torch threads."""
    calls = [dict(replicate=r, checkpoint=r.checkpoint(checkpoint_dir), recipe=recipe, train_set=train_set,
                  selection_set=selection_set, threads=max(1, int(placement.task_cpus)))
             for r in grid if replicate_needs_training(r, r.checkpoint(checkpoint_dir), recipe, baseline_checkpoint)]
    run_tasks(train_replicate, calls, placement.executor, num_cpus=placement.task_cpus, num_gpus=placement.task_gpus)
    return [call["checkpoint"] for call in calls]


def backbone_banks(replicate: Replicate, recipe: ModelRecipe, images: Mapping[str, torch.Tensor],
                   progress: bool = True) -> dict[str, torch.Tensor]:
    """Frozen-stage outputs of each set of uint8 ``images`` for the replicate's backbone, computed
    once and shared by every seed of that backbone (the frozen stages keep their ImageNet
    weights, whatever the seed), in float32 whatever precision ``recipe.train`` trained in
    (:func:`~tmvlib.models.train.evaluation_bank`): these banks are only evaluated on."""
    for name, x in images.items():
        _check_size(replicate, x, name)
    trunk, info = replicate.recipe(recipe).build()
    return {name: evaluation_bank(trunk, info, x, recipe.train, progress, f"{replicate.backbone}: {name} features")
            for name, x in images.items()}


def replicate_logits(fitted: FittedModel, banks: Mapping[str, torch.Tensor]) -> dict[str, np.ndarray]:
    """Logits ``(N,)`` of a fitted replicate on each set's frozen-stage outputs
    (:func:`backbone_banks` of its backbone)."""
    return {name: bank_outputs(fitted.model, bank).numpy() for name, bank in banks.items()}


def _key(replicate: Replicate, recipe: ModelRecipe) -> dict:
    """The checkpoint key of ``replicate`` trained from the baseline ``recipe``."""
    own = replicate.recipe(recipe)
    return own.key(own.build()[1])


def _check_size(replicate: Replicate, images: torch.Tensor, what: str) -> None:
    if tuple(images.shape[-2:]) != (replicate.image_size, replicate.image_size):
        raise ValueError(f"{replicate.label}: {what} images are {tuple(images.shape[-2:])} px, the replicate "
                         f"runs at {replicate.image_size} px")
