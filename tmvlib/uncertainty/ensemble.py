"""Last-blocks ensembles: members on one shared, frozen pretrained trunk.

A deep ensemble (Lakshminarayanan et al. 2017) trains M networks independently from random
initialisations. Here the frozen ImageNet stages are the same for every member (their outputs are
computed once and shared) and the trainable last stage starts from the same ImageNet weights, so
only the trainable top can differ: a **last-blocks ensemble**, cheaper and less diverse than
deep ensembles; it cannot represent the disagreement of independently trained trunks.

Two designs (:data:`DESIGNS`), both with member 0 = chapter 02's baseline:

- ``"independent"`` (the report's ensemble): member m has its own seed for everything trainable
  (head initialisation, data order, dropout masks) *and* its own augmented views of the training
  images (drawn with its seed); optionally (``bagging``) a patient-level bootstrap resample of the
  training set for members m >= 1.
- ``"shared views"`` (the ensemble of earlier versions, kept as the reference that the diversity
  table compares against): members differ in seed only and all train on the augmented views of
  the baseline's seed.

Members train one after another in this process, or (``executor="ray"``) as independent Ray
tasks, one CPU share or GPU each, that write their checkpoints; the members are then loaded from
those checkpoints in this process, as reused ones are.
"""
from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..models.checkpoint import reusable_checkpoint
from ..data.folds import fold_ensemble_prefix
from ..models.cross_fit import fold_checkpoint, fold_recipe, fold_training_data
from ..models.feature_cache import bank_outputs
from ..models.fit import FittedModel, fit_or_load
from ..models.recipe import ModelRecipe, TrainingData
from ..models.train import TrainConfig, build_train_cache, frozen_bank
from ..parallel import TaskPlacement, run_tasks

DESIGNS = ("independent", "shared views")


def member_config(base: TrainConfig, member: int, design: str = "independent") -> TrainConfig:
    """Member ``m`` trains with seed ``base.seed + m``; under ``"independent"`` on augmented views
    drawn with that seed, under ``"shared views"`` on the views of ``base.seed``. Member 0 is
    ``base`` itself in both designs."""
    if design not in DESIGNS:
        raise ValueError(f"design must be one of {DESIGNS}, got {design!r}")
    shared = design == "shared views" and member > 0
    return replace(base, seed=base.seed + member, cache_seed=base.seed if shared else None)


def bootstrap_patients(patients: np.ndarray, seed: int) -> np.ndarray:
    """Row indices of a patient-level bootstrap resample (bagging, Breiman 1996): as many patients
    as there are, drawn with replacement, each with all of its images, in draw order; a patient
    drawn k times appears k times. ``patients`` (N,) -> int indices (N',)."""
    codes, uniques = pd.factorize(np.asarray(patients))
    drawn = np.random.default_rng(seed).integers(0, len(uniques), len(uniques))
    rows = [np.flatnonzero(codes == c) for c in range(len(uniques))]
    return np.concatenate([rows[c] for c in drawn])


@dataclass(frozen=True)
class EnsembleSpec:
    """Which ensemble to train: ``n_members`` members M (member 0 included), the ``design``
    (:data:`DESIGNS`), patient-level ``bagging`` of members m >= 1, and the checkpoint file
    ``prefix`` (``<prefix>_<m>.pt``; one per design in a run)."""

    n_members: int
    design: str = "independent"
    bagging: bool = False
    prefix: str = "ensemble"

    def __post_init__(self):
        if self.design not in DESIGNS:
            raise ValueError(f"design must be one of {DESIGNS}, got {self.design!r}")
        if self.n_members < 1:
            raise ValueError(f"an ensemble needs at least one member, got {self.n_members}")


def fit_ensemble(spec: EnsembleSpec, checkpoint_dir: Path, recipe: ModelRecipe, data: TrainingData, *,
                 member0_checkpoint: Path | None = None, train_patients: np.ndarray | None = None,
                 placement: TaskPlacement = TaskPlacement(), progress: bool = True,
                 same_as: Sequence[str] = ()) -> list[FittedModel]:
    """Train (or reuse) the members of a last-blocks ensemble (see the module doc); returns them
    in member order.

    Args:
        spec: members, design, bagging and checkpoint prefix (:class:`EnsembleSpec`).
        checkpoint_dir: where member m >= 1 is saved as ``<prefix>_<m>.pt`` (and reused when its
            checkpoint matches the config).
        recipe: member 0's recipe (:class:`tmvlib.models.recipe.ModelRecipe`); member m's
            training config is :func:`member_config`, the classifier the same for every member;
            a bagged member's checkpoint key adds its bootstrap rows to ``recipe.split_hash``.
        data: uint8 training and validation radiographs (N, 1, H, W) with labels in {0, 1}
            (:class:`tmvlib.models.recipe.TrainingData`).
        member0_checkpoint: chapter 02's baseline, used as member 0 when given (else
            ``<prefix>_0.pt``).
        train_patients: (N,) patient ids of the training images; needed by ``spec.bagging``
            (members m >= 1 train on :func:`bootstrap_patients`, seeded by the member's seed).
        placement: ``"local"`` (members one after another here), ``"ray"`` (the members to train
            as Ray tasks of ``task_cpus`` CPUs and ``task_gpus`` GPUs each, every task with its
            own frozen-stage caches; ``checkpoint_dir`` must be on storage every worker can
            reach) or ``"auto"`` (:class:`tmvlib.parallel.TaskPlacement`).
        progress: show progress bars.
        same_as: prefixes of other ensembles in ``checkpoint_dir`` whose member m may hold member
            m's very recipe (the deployed fold's ensemble is the single split's under
            ``split_source: folds``): copied, not retrained.

    Returns:
        list of M :class:`tmvlib.models.fit.FittedModel`.

    Frozen-stage outputs of the validation images (and, for ``"shared views"``, of the shared
    training views) are computed once, and only when some member must be trained. Locally,
    members train one after another: on a 2-core CPU each already uses both cores.
    """
    if spec.bagging and train_patients is None:
        raise ValueError("bagging resamples patients: pass train_patients")
    trunk, info = recipe.build()
    paths = [member0_checkpoint if m == 0 and member0_checkpoint else
             Path(checkpoint_dir) / f"{spec.prefix}_{m}.pt" for m in range(spec.n_members)]
    val_cache: torch.Tensor | None = None
    shared_views: torch.Tensor | None = None
    plans = []
    for m, path in enumerate(paths):
        config = member_config(recipe.train, m, spec.design)
        rows = bootstrap_patients(train_patients, config.seed) if spec.bagging and m > 0 else None
        key_hash = recipe.split_hash if rows is None else _bagged_hash(recipe.split_hash, rows)
        member = replace(recipe, train=config, split_hash=key_hash)
        member_data = data if rows is None else data.train_rows(rows)
        twins = [Path(checkpoint_dir) / f"{prefix}_{m}.pt" for prefix in same_as if m > 0]
        reusable = any(reusable_checkpoint(p, member.key(info)) for p in (path, *twins))
        plans.append((path, member, rows, member_data, reusable, twins))
    trained_remotely = set()
    if placement.resolved == "ray":
        calls = [dict(checkpoint=path, recipe=member, data=member_data, progress=False,
                      threads=max(1, int(placement.task_cpus)))
                 for path, member, _, member_data, reusable, _ in plans if not reusable]
        run_tasks(train_member, calls, "ray", num_cpus=placement.task_cpus, num_gpus=placement.task_gpus)
        trained_remotely = {call["checkpoint"] for call in calls}
    members = []
    for path, member, rows, member_data, reusable, twins in plans:
        train_cache = None  # built by the trainer from the member's own views
        if recipe.frozen_stages > 0 and not reusable and path not in trained_remotely:
            if val_cache is None:
                val_cache = frozen_bank(trunk, info, data.val_images, member.train, progress,
                                        "caching validation features")
            if member.train.cache_seed is not None and rows is None:
                if shared_views is None:
                    shared_views = build_train_cache(trunk, info, data.train_images,
                                                     replace(member.train, cache_seed=recipe.train.seed), progress)
                train_cache = shared_views
        fitted = fit_or_load(path, member, member_data, progress=progress, train_cache=train_cache,
                             val_cache=val_cache, same_as=twins)
        members.append(replace(fitted, reused=False) if path in trained_remotely else fitted)
    return members


def fit_fold_ensembles(spec: EnsembleSpec, recipe: ModelRecipe, sets, images, checkpoint_dir: Path, *,
                       placement: TaskPlacement = TaskPlacement(), progress: bool = True) -> dict[int, list[FittedModel]]:
    """The ensemble of every fold model (cross-fitted evaluation): :func:`fit_ensemble` of fold
    ``f`` on its training role, stopped early on its selection role, with the fold model
    (``fold_<f>.pt``, :func:`tmvlib.models.cross_fit.fold_checkpoint`) as member 0 and members
    ``m >= 1`` saved as ``fold<f>_<spec.prefix>_<m>.pt`` (copied from the single split's
    ``<spec.prefix>_<m>.pt`` where that holds the same recipe: the deployed fold's members under
    ``split_source: folds``).

    Args:
        spec: members, design and bagging, as for the single split's ensemble.
        recipe: the baseline's recipe (each fold's is :func:`tmvlib.models.cross_fit.fold_recipe`).
        sets: fold -> role -> images (:func:`tmvlib.data.folds.role_sets`).
        images: rows of a frame -> uint8 ``(N, 1, H, W)`` in its order.
    Returns:
        fold -> the M members in member order.
    """
    ensembles = {}
    for fold in sorted(sets):
        roles = sets[fold]
        ensembles[fold] = fit_ensemble(replace(spec, prefix=fold_ensemble_prefix(fold, spec.prefix)), checkpoint_dir,
                                       fold_recipe(recipe, roles), fold_training_data(roles, images),
                                       member0_checkpoint=fold_checkpoint(checkpoint_dir, fold),
                                       train_patients=roles["training"]["patient_id"].to_numpy(),
                                       placement=placement, progress=progress, same_as=(spec.prefix,))
    return ensembles


def train_member(threads: int | None = None, **fit_args) -> None:
    """Train one member where it runs (a Ray task): :func:`tmvlib.models.fit.fit_or_load` with
    ``fit_args``, computing its own frozen-stage caches, on ``threads`` torch threads; the
    checkpoint it writes is the result."""
    if threads:
        torch.set_num_threads(threads)
    fit_or_load(**fit_args)


def _bagged_hash(split_hash: str, rows: np.ndarray) -> str:
    """The checkpoint key of a bagged member: the split's hash and its bootstrap rows."""
    return hashlib.sha256(f"{split_hash}:bootstrap:".encode() + np.asarray(rows, np.int64).tobytes()).hexdigest()


def member_logits(members: list[FittedModel], bank: torch.Tensor) -> np.ndarray:
    """Logits ``(M, N)`` of every member on shared frozen-stage outputs ``bank``."""
    return np.stack([bank_outputs(m.model, bank, "logits").numpy() for m in members])
