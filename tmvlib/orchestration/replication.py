"""Chapter 09's replication run: train (or reuse) every replicate of the grid, backbone by
backbone, run its TTA-stability stage over shards (here or on Ray) and compute its quantities
with the pure table builders of :mod:`tmvlib.tables.replication`.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..data.tensors import load_image_tensor
from ..explain.stability import StabilityProtocol
from ..models.fit import FittedModel
from ..models.replicates import Replicate, backbone_banks, fit_replicate, replicate_logits, train_replicates_as_tasks
from ..models.train import TrainConfig
from ..parallel import map_images, resolve_executor
from ..stages import TTAStabilityStage
from ..tables.quadrants import QuadrantRules
from ..tables.replication import replicate_quantities, replicate_trust_frame, replicate_trust_quantities


def replicate_rows(replicate: Replicate, fitted: FittedModel, banks: Mapping[str, torch.Tensor],
                   sets: Mapping[str, pd.DataFrame], threshold_rule: str, protocol: StabilityProtocol,
                   rules: QuadrantRules, *, shard_dir: Path, n_boot: int = 1000, seed: int = 0,
                   executor: str = "local", shard_size: int = 256) -> pd.DataFrame:
    """Every quantity of one replicate: :func:`replicate_quantities` from its logits on the
    shared ``banks`` (``val``, ``test``, ``external``), then TTA instability of the ``val`` and
    ``test`` images (:class:`tmvlib.stages.TTAStabilityStage` on the replicate's checkpoint,
    shard by shard under ``shard_dir`` in this process or on Ray: ``executor``, ``shard_size``)
    and :func:`replicate_trust_quantities`. Rows carry ``replicate, backbone, seed``. The stage
    decodes its shards' images itself, as a worker on another machine must (a few seconds per
    replicate at the default profile's size, against minutes of TTA Grad-CAMs)."""
    logits = replicate_logits(fitted, banks)
    table = replicate_quantities(sets, logits, threshold_rule, n_boot, seed)
    threshold = float(table["threshold"].iloc[0])
    probs = {name: 1 / (1 + np.exp(-np.asarray(z, float))) for name, z in logits.items()}
    stage = TTAStabilityStage(fitted.checkpoint, replicate.image_size, threshold, protocol)
    stability = {name: map_images(stage, sets[name].assign(prob=probs[name]),
                                  Path(shard_dir) / f"tta-{Path(fitted.checkpoint).stem}-{name}", shard_size,
                                  executor, progress=False)
                 for name in ("val", "test")}
    per_image = replicate_trust_frame({n: sets[n] for n in ("val", "test")}, probs, threshold, stability)
    trust = replicate_trust_quantities(per_image, rules, n_boot, seed).assign(threshold=threshold)
    return pd.concat([table, trust], ignore_index=True).assign(
        replicate=replicate.label, backbone=replicate.backbone, seed=replicate.seed)


def run_replication(grid: Sequence[Replicate], sets: Mapping[str, pd.DataFrame], recipe: Mapping, checkpoint_dir: Path,
                    baseline_checkpoint: Path | None, threshold_rule: str, protocol: StabilityProtocol,
                    rules: QuadrantRules, *, shard_dir: Path, n_boot: int = 1000, seed: int = 0,
                    executor: str = "local", shard_size: int = 256, task_cpus: int = 1, task_gpus: float = 0.0,
                    progress: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train (or reuse) and evaluate every replicate of ``grid``, backbone by backbone (images
    decoded and frozen-stage outputs computed once per backbone and size).

    Args:
        sets: ``train``, ``val``, ``test``, ``external`` -> images (``path, image_id,
            patient_id, label``).
        recipe: the baseline checkpoint's config (``weights, dropout, frozen_stages,
            split_hash, train``).
        checkpoint_dir: where replicates are saved (``Replicate.checkpoint``).
        baseline_checkpoint: chapter 02's checkpoint, reused for the replicate with its config.
        executor: ``"ray"`` (or ``"auto"`` with ``RAY_ADDRESS`` set) first trains the replicates
            no checkpoint holds as Ray tasks of ``task_cpus`` CPUs and ``task_gpus`` GPUs each
            (:func:`tmvlib.models.replicates.train_replicates_as_tasks`), then evaluates them
            here; ``"local"`` trains them one after another here. Also each replicate's TTA stage.
        the rest: :func:`replicate_rows`.
    Returns:
        ``(rows, fits)``: every replicate's :func:`replicate_rows`, and one row per replicate
        (``replicate, backbone, seed, image_size, status, best epoch, val AUROC, train seconds``).
    """
    train = TrainConfig(**recipe["train"])
    remote = []
    if resolve_executor(executor) == "ray":
        remote = train_replicates_as_tasks(grid, checkpoint_dir, recipe["weights"], recipe["dropout"],
                                           recipe["frozen_stages"], train, recipe["split_hash"], sets["train"],
                                           sets["val"], baseline_checkpoint, "ray", task_cpus, task_gpus)
    rows, fits = [], []
    for backbone, size in dict.fromkeys((r.backbone, r.image_size) for r in grid):
        images = {name: load_image_tensor(frame, size, progress=False) for name, frame in sets.items()}
        first = next(r for r in grid if (r.backbone, r.image_size) == (backbone, size))
        banks = backbone_banks(first, recipe["weights"], recipe["dropout"], recipe["frozen_stages"], train,
                               {n: images[n] for n in ("val", "test", "external")}, progress)
        for r in (r for r in grid if (r.backbone, r.image_size) == (backbone, size)):
            fitted = fit_replicate(r, r.checkpoint(checkpoint_dir), recipe["weights"], recipe["dropout"],
                                   recipe["frozen_stages"], train, recipe["split_hash"], images["train"],
                                   sets["train"]["label"].to_numpy(), images["val"], sets["val"]["label"].to_numpy(),
                                   progress, baseline_checkpoint)
            rows.append(replicate_rows(r, fitted, banks, sets, threshold_rule, protocol, rules,
                                       shard_dir=shard_dir, n_boot=n_boot, seed=seed, executor=executor,
                                       shard_size=shard_size))
            fits.append({"replicate": r.label, "backbone": r.backbone, "seed": r.seed, "image_size": r.image_size,
                         "status": "reused" if fitted.reused and fitted.checkpoint not in remote else "trained", "best epoch": fitted.best_epoch,
                         "val AUROC": float(fitted.history["val_auroc"].max()),
                         "train seconds": float(fitted.record.get("seconds", float("nan")))})
    return pd.concat(rows, ignore_index=True), pd.DataFrame(fits)
