"""Chapter 06's explanation stability run over image shards: each set's images through
:class:`tmvlib.stages.SourceStabilityStage`, in this process or on Ray."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from ..explain.stability import SOURCES, StabilityBySet, StabilityProtocol, check_sources
from ..fingerprint import sha256_file
from ..parallel import map_images
from ..stages import SourceStabilityStage


def stability_by_set_on_shards(checkpoints: Sequence[str | Path], frames: Mapping[str, pd.DataFrame],
                               image_size: int, threshold: float, protocol: StabilityProtocol, *,
                               shard_dir: str | Path, executor: str = "local",
                               shard_size: int = 256, sources: Sequence[str] = SOURCES) -> StabilityBySet:
    """Chapter 06's ``protocol`` (:func:`tmvlib.explain.stability.stability_by_source`) with each set's
    images run shard by shard by :class:`tmvlib.stages.SourceStabilityStage` (in this process or on
    Ray: ``executor``), from the checkpoints alone: ``checkpoints[0]`` is the explained model, the
    rest the other ensemble members. Shards live under ``<shard_dir>/stability/<set>`` and their
    rows and reference maps under ``<shard_dir>/stability/<set>-detail``; a rerun computes only
    missing shards. A ``shard_size`` that is a multiple of the protocol's ``batch_size`` keeps the
    batches of one unsharded call, so the result equals it (tested).

    Args:
        frames: set name -> its images (``image_id, path, prob``), as
            :func:`tmvlib.tables.stability.stability_sets`.
        sources: the sources measured; without ``"ensemble"`` only ``checkpoints[0]`` is read.
        the rest: as :func:`tmvlib.explain.stability.stability_by_source`.
    """
    rows, reference, probs, folder = [], {}, {}, Path(shard_dir) / "stability"
    members = [str(c) for c in checkpoints[1:]] if "ensemble" in check_sources(sources) else []
    for name, frame in frames.items():
        stage = SourceStabilityStage(str(checkpoints[0]), members, image_size,
                                     str(folder / f"{name}-detail"), threshold, protocol, sources=sources)
        done = map_images(stage, frame, folder / name, shard_size, executor, progress=False)
        detail, reference[name], probs[name] = stage.collect(done)
        rows.append(detail.assign(set=name))
    return StabilityBySet(pd.concat(rows, ignore_index=True), reference, probs)


@dataclass(frozen=True)
class StabilityRun:
    """One model's stability run: its ``checkpoints`` (explained model first), image ``frames``
    (set -> ``image_id, prob``), decision ``threshold``, the ``stability`` they gave and the
    ``sources`` it measured."""

    checkpoints: Sequence[str | Path]
    frames: Mapping[str, pd.DataFrame]
    threshold: float
    stability: StabilityBySet
    sources: Sequence[str] = SOURCES


def same_stability_inputs(run: StabilityRun, checkpoints: Sequence[str | Path], frames: Mapping[str, pd.DataFrame],
                          threshold: float, sources: Sequence[str] = SOURCES) -> bool:
    """True when ``run`` measured ``sources`` (and maybe more) from the same inputs: the same
    explained model (and, with the ``ensemble`` source, the same members), by sha256 and in order,
    the same threshold, and every set the same images in the same order with the same
    probabilities; its rows, maps and probabilities of those sources
    (:meth:`~tmvlib.explain.stability.StabilityBySet.of_sources`) are then exactly what a new run
    would give. The checkpoints are hashed last, only for a fold whose images already match (the
    other folds of :func:`fold_stability_on_shards` read no checkpoint here)."""
    wanted = check_sources(sources)
    if not set(wanted) <= set(run.sources):
        return False
    if "ensemble" not in wanted:
        checkpoints, run = checkpoints[:1], replace(run, checkpoints=run.checkpoints[:1])
    if float(run.threshold) != float(threshold) or list(run.frames) != list(frames):
        return False
    same_images = all(len(run.frames[name]) == len(frame)
                      and np.array_equal(run.frames[name]["image_id"].to_numpy(), frame["image_id"].to_numpy())
                      and np.array_equal(run.frames[name]["prob"].to_numpy(), frame["prob"].to_numpy())
                      for name, frame in frames.items())
    return same_images and [sha256_file(c) for c in run.checkpoints] == [sha256_file(c) for c in checkpoints]


def fold_stability_on_shards(checkpoints: Mapping[int, Sequence[str | Path]],
                             frames: Mapping[int, Mapping[str, pd.DataFrame]], thresholds: Mapping[int, float],
                             image_size: int, protocol: StabilityProtocol, *, shard_dir: str | Path,
                             executor: str = "local", shard_size: int = 256,
                             reuse: StabilityRun | None = None,
                             sources: Sequence[str] = SOURCES) -> dict[int, StabilityBySet]:
    """:func:`stability_by_set_on_shards` of ``sources`` for every fold model, its shards under
    ``<shard_dir>/fold<f>``; a fold whose inputs equal ``reuse``'s (:func:`same_stability_inputs`,
    e.g. the deployed fold model, which is the single split's model on the same images) takes
    ``reuse.stability`` (of ``sources``) instead of computing it again.

    Args:
        checkpoints: fold -> its model and ensemble members
            (:func:`tmvlib.artifacts.fold_ensemble_checkpoints`; only the model is read without
            the ``ensemble`` source).
        frames: fold -> set -> images (:func:`tmvlib.tables.cross_fit.fold_stability_frames`).
        thresholds: fold -> its decision threshold.
        sources: the sources measured (chapter 06's ``fold_sources``: what the pooled verdicts read).
    Returns:
        fold -> its :class:`tmvlib.explain.stability.StabilityBySet`.
    """
    runs = {}
    for fold, sets in frames.items():
        threshold = float(thresholds[fold])
        if reuse is not None and same_stability_inputs(reuse, checkpoints[fold], sets, threshold, sources):
            runs[fold] = reuse.stability.of_sources(sources)
            continue
        runs[fold] = stability_by_set_on_shards(checkpoints[fold], sets, image_size, threshold, protocol,
                                                shard_dir=Path(shard_dir) / f"fold{fold}", executor=executor,
                                                shard_size=shard_size, sources=sources)
    return runs
