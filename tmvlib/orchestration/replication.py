"""Chapter 09's replication run: train (or reuse) every replicate of the grid, backbone by
backbone, run its TTA-stability stage over shards (here or on Ray) and compute its quantities
with the pure table builders of :mod:`tmvlib.tables.replication`.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..data.tensors import load_image_tensor
from ..explain.stability import StabilityProtocol
from ..models.fit import FittedModel
from ..models.recipe import ModelRecipe, TrainingData
from ..models.replicates import Replicate, backbone_banks, fit_replicate, replicate_logits, train_replicates_as_tasks
from ..parallel import TaskPlacement, map_images
from ..stages import TTAStabilityStage
from ..tables.quadrants import QuadrantRules
from ..tables.replication import replicate_quantities, replicate_trust_frame, replicate_trust_quantities


@dataclass(frozen=True)
class ReplicateEvaluation:
    """How every replicate is evaluated, the same way the report evaluates the baseline.

    Attributes:
        threshold_rule: chapter 02's decision-threshold rule, fitted on each replicate's validation
            predictions (:func:`tmvlib.metrics.discrimination.decision_threshold`).
        stability: chapter 06's stability protocol (its TTA source alone, here).
        rules: chapter 07's quadrant rules (:class:`tmvlib.tables.quadrants.QuadrantRules`).
        n_boot, seed: the patient bootstrap of every interval.
    """

    threshold_rule: str
    stability: StabilityProtocol
    rules: QuadrantRules
    n_boot: int = 1000
    seed: int = 0


def replicate_rows(replicate: Replicate, fitted: FittedModel, banks: Mapping[str, torch.Tensor],
                   sets: Mapping[str, pd.DataFrame], evaluation: ReplicateEvaluation, *, shard_dir: Path,
                   placement: TaskPlacement = TaskPlacement()) -> pd.DataFrame:
    """Every quantity of one replicate: :func:`replicate_quantities` from its logits on the
    shared ``banks`` (``val``, ``test``, ``external``), then TTA instability of the ``val`` and
    ``test`` images (:class:`tmvlib.stages.TTAStabilityStage` on the replicate's checkpoint,
    shard by shard under ``shard_dir`` in this process or on Ray: ``placement.executor``,
    ``placement.shard_size``) and :func:`replicate_trust_quantities`. Rows carry ``replicate,
    backbone, seed``. The stage decodes its shards' images itself, as a worker on another machine
    must (a few seconds per replicate at the default profile's size, against minutes of TTA
    Grad-CAMs)."""
    e = evaluation
    logits = replicate_logits(fitted, banks)
    table = replicate_quantities(sets, logits, e.threshold_rule, e.n_boot, e.seed)
    threshold = float(table["threshold"].iloc[0])
    probs = {name: 1 / (1 + np.exp(-np.asarray(z, float))) for name, z in logits.items()}
    stage = TTAStabilityStage(fitted.checkpoint, replicate.image_size, threshold, e.stability)
    stability = {name: map_images(stage, sets[name].assign(prob=probs[name]),
                                  Path(shard_dir) / f"tta-{Path(fitted.checkpoint).stem}-{name}",
                                  placement.shard_size, placement.executor, progress=False)
                 for name in ("val", "test")}
    per_image = replicate_trust_frame({n: sets[n] for n in ("val", "test")}, probs, threshold, stability)
    trust = replicate_trust_quantities(per_image, e.rules, e.n_boot, e.seed).assign(threshold=threshold)
    return pd.concat([table, trust], ignore_index=True).assign(
        replicate=replicate.label, backbone=replicate.backbone, seed=replicate.seed)


def run_replication(grid: Sequence[Replicate], sets: Mapping[str, pd.DataFrame], recipe: ModelRecipe,
                    evaluation: ReplicateEvaluation, *, checkpoint_dir: Path, shard_dir: Path,
                    baseline_checkpoint: Path | None = None, placement: TaskPlacement = TaskPlacement(),
                    progress: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train (or reuse) and evaluate every replicate of ``grid``, backbone by backbone (images
    decoded and frozen-stage outputs computed once per backbone and size).

    Args:
        sets: ``training``, ``selection`` (the training split's two parts,
            :func:`tmvlib.data.folds.training_roles`), ``val``, ``test``, ``external`` -> images
            (``path, image_id, patient_id, label``).
        recipe: the baseline's recipe (``ModelRecipe.from_checkpoint_config`` of its checkpoint);
            each replicate's is :meth:`Replicate.recipe`.
        evaluation: :class:`ReplicateEvaluation`.
        checkpoint_dir: where replicates are saved (``Replicate.checkpoint``).
        shard_dir: where each replicate's TTA stage keeps its shards.
        baseline_checkpoint: chapter 02's checkpoint, reused for the replicate with its config.
        placement: ``"ray"`` (or ``"auto"`` with ``RAY_ADDRESS`` set) first trains the replicates
            no checkpoint holds as Ray tasks of ``task_cpus`` CPUs and ``task_gpus`` GPUs each
            (:func:`tmvlib.models.replicates.train_replicates_as_tasks`), then evaluates them
            here; ``"local"`` trains them one after another here. Also each replicate's TTA stage
            (``shard_size`` images per shard).
    Returns:
        ``(rows, fits)``: every replicate's :func:`replicate_rows`, and one row per replicate
        (``replicate, backbone, seed, image_size, status, best epoch, val AUROC, train seconds``).
    """
    remote = []
    if placement.resolved == "ray":
        remote = train_replicates_as_tasks(grid, checkpoint_dir, recipe, sets["training"], sets["selection"],
                                           baseline_checkpoint=baseline_checkpoint,
                                           placement=replace(placement, executor="ray"))
    rows, fits = [], []
    for backbone, size in dict.fromkeys((r.backbone, r.image_size) for r in grid):
        images = {name: load_image_tensor(frame, size, progress=False) for name, frame in sets.items()}
        first = next(r for r in grid if (r.backbone, r.image_size) == (backbone, size))
        banks = backbone_banks(first, recipe, {n: images[n] for n in ("val", "test", "external")}, progress)
        data = TrainingData.from_roles(sets, images)  # early stopping on the selection patients
        for r in (r for r in grid if (r.backbone, r.image_size) == (backbone, size)):
            fitted = fit_replicate(r, r.checkpoint(checkpoint_dir), recipe, data, progress=progress,
                                   baseline_checkpoint=baseline_checkpoint)
            rows.append(replicate_rows(r, fitted, banks, sets, evaluation, shard_dir=shard_dir, placement=placement))
            fits.append({"replicate": r.label, "backbone": r.backbone, "seed": r.seed, "image_size": r.image_size,
                         "status": "reused" if fitted.reused and fitted.checkpoint not in remote else "trained",
                         "best epoch": fitted.best_epoch, "val AUROC": float(fitted.history["val_auroc"].max()),
                         "train seconds": float(fitted.record.get("seconds", float("nan")))})
    return pd.concat(rows, ignore_index=True), pd.DataFrame(fits)
