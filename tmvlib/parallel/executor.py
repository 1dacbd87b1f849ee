"""Run a per-image stage over image shards, in this process or on a Ray cluster, same results.

A stage is a small picklable object (:class:`ImageStage`): it is built from paths and
parameters, :meth:`~ImageStage.setup` loads what it needs once per worker (a model from its
checkpoint), and :meth:`~ImageStage.run` turns one shard's records into one result row per image.
:func:`map_images` cuts the records into shards (:mod:`tmvlib.parallel.shards`), runs the shards
that have no result yet and reads every result back, checked against the manifest.

Executors:

- ``"local"``: the shards one after another in this process (no Ray needed);
- ``"ray"``: Ray Data ``map_batches`` over the shard numbers with a pool of actors, each holding
  one set-up stage; a killed worker is restarted and its shard retried (Ray Data's actor
  defaults, ``max_restarts=-1``, ``max_task_retries=-1``); the shard folder must be on storage
  every worker can reach (a shared file system on a multi-node cluster);
- ``"auto"``: ``"ray"`` when ``RAY_ADDRESS`` is set, else ``"local"``.

A shard's result does not depend on the executor: the same records in the same order go through
the same ``run``, so both executors write identical Parquet shards.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..progress import progress_bar
from .shards import ShardStore
from .stage import ImageStage, run_shard

EXECUTORS = ("auto", "local", "ray")


@dataclass(frozen=True)
class TaskPlacement:
    """Where independent work runs, the settings that travel together through every function
    that trains models or maps images as tasks.

    Attributes:
        executor: ``"local"``, ``"ray"`` or ``"auto"`` (:func:`resolve_executor`).
        task_cpus: CPUs (and torch threads) per Ray task that trains a model.
        task_gpus: GPUs per Ray task that trains a model.
        shard_size: images per shard of a per-image stage (:func:`map_images`).
    """

    executor: str = "local"
    task_cpus: float = 1
    task_gpus: float = 0
    shard_size: int = 256

    def __post_init__(self):
        if self.executor not in EXECUTORS:
            raise ValueError(f"executor must be one of {EXECUTORS}, got {self.executor!r}")
        if self.task_cpus <= 0 or self.task_gpus < 0 or self.shard_size < 1:
            raise ValueError(f"task_cpus must be > 0, task_gpus >= 0 and shard_size >= 1, got {self}")

    @property
    def resolved(self) -> str:
        """``"local"`` or ``"ray"`` (:func:`resolve_executor`)."""
        return resolve_executor(self.executor)


def resolve_executor(executor: str) -> str:
    """``"local"`` or ``"ray"`` (see the module docstring).

    Raises:
        ValueError: an unknown name.
        ImportError: ``"ray"`` (or ``"auto"`` with ``RAY_ADDRESS`` set) without Ray installed.
    """
    if executor not in EXECUTORS:
        raise ValueError(f"executor must be one of {EXECUTORS}, got {executor!r}")
    chosen = ("ray" if os.environ.get("RAY_ADDRESS") else "local") if executor == "auto" else executor
    if chosen == "ray":
        try:
            import ray  # noqa: F401
        except ImportError as err:
            raise ImportError("executor 'ray' needs Ray: pip install 'tmvlib[ray]' "
                              "(or unset RAY_ADDRESS to run in this process)") from err
    return chosen


def map_images(stage: ImageStage, records: pd.DataFrame, folder: str | Path, shard_size: int = 256,
               executor: str = "auto", workers: int | None = None, progress: bool = True) -> pd.DataFrame:
    """Run ``stage`` over ``records`` (one row per image, ``image_id`` unique), shard by shard.

    Args:
        stage: the per-image analysis.
        records: its input rows (e.g. ``image_id, path, label, split``).
        folder: the stage run's shard folder; finished shards of an identical earlier run are
            kept (resume), anything else there is replaced.
        shard_size: images per shard (the unit of work, of retry and of resumption).
        executor: ``"auto"``, ``"local"`` or ``"ray"``.
        workers: Ray actors in the pool (default: as many as the cluster's CPUs allow for
            ``stage.num_cpus`` each, at most the number of pending shards); ignored locally.
    Returns:
        the stage's rows for every record, in record order (checked: none lost or duplicated).
    """
    store = ShardStore(folder)
    planned = store.prepare(records, shard_size, stage.identity())
    pending = sorted(set(planned["shard"]) - store.finished())
    if pending:
        run = _run_ray if resolve_executor(executor) == "ray" else _run_local
        run(stage, store, pending, workers, progress)
    return store.read()


def _run_local(stage: ImageStage, store: ShardStore, pending: Sequence[int], workers, progress: bool) -> None:
    stage.setup()
    for shard in progress_bar(pending, progress, desc=stage.name, leave=False):
        run_shard(stage, store, shard)


def _run_ray(stage: ImageStage, store: ShardStore, pending: Sequence[int], workers: int | None,
             progress: bool) -> None:
    from .ray_backend import run_shards_on_ray

    run_shards_on_ray(stage, store, pending, workers, progress)


def run_tasks(fn: Callable, calls: Sequence[dict], executor: str = "auto", num_cpus: float = 1,
              num_gpus: float = 0) -> list:
    """``[fn(**kwargs) for kwargs in calls]``, in this process or as independent Ray tasks (one
    per call, ``num_cpus`` / ``num_gpus`` each, retried if a worker dies); results in call order.
    ``fn`` must be importable by name on the workers (a module-level function)."""
    if resolve_executor(executor) == "local":
        return [fn(**kwargs) for kwargs in calls]
    from .ray_backend import run_tasks_on_ray

    return run_tasks_on_ray(fn, calls, num_cpus, num_gpus)


__all__ = ["EXECUTORS", "ImageStage", "TaskPlacement", "map_images", "resolve_executor", "run_shard", "run_tasks"]
