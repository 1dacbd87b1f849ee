"""The Ray side of :mod:`tmvlib.parallel.executor` (imported only when Ray is used).

``RAY_ADDRESS`` set: connect to that cluster. Unset: start a local Ray instance on this machine's
CPUs (``TMV_RAY_CPUS`` to use fewer), with a small object store (results travel as Parquet
files, not as objects).
"""
from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence

import ray

from ..progress import progress_enabled
from .shards import ShardStore
from .stage import ImageStage, run_shard

LOCAL_OBJECT_STORE_BYTES = 256 * 1024**2


def ensure_ray() -> None:
    """Connect to ``RAY_ADDRESS`` or start a local instance, once per process."""
    if ray.is_initialized():
        return
    address = os.environ.get("RAY_ADDRESS")
    if address:
        ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
        return
    cpus = int(os.environ.get("TMV_RAY_CPUS", os.cpu_count() or 1))
    ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False,
             object_store_memory=LOCAL_OBJECT_STORE_BYTES, logging_level=logging.WARNING)


class _ShardWorker:
    """One Ray Data actor: the stage set up once, then one shard per call."""

    def __init__(self, stage: ImageStage, folder: str):
        self.stage, self.store = stage, ShardStore(folder)
        stage.setup()

    def __call__(self, batch: dict) -> dict:
        shards = [int(k) for k in batch["shard"]]
        return {"shard": shards, "rows": [run_shard(self.stage, self.store, k) for k in shards]}


def run_shards_on_ray(stage: ImageStage, store: ShardStore, pending: Sequence[int], workers: int | None,
                      progress: bool = True) -> None:
    """Ray Data ``map_batches`` over the pending shard numbers, one shard per batch, with a pool of
    ``workers`` actors (default: the cluster's CPUs / ``stage.num_cpus``). Actors that die are
    restarted and their shard retried (Ray Data's defaults for actor pools). ``progress``: Ray
    Data's progress bars (off in book builds, :func:`tmvlib.progress.progress_enabled`)."""
    ensure_ray()
    show = progress_enabled(progress)
    ray.data.DataContext.get_current().enable_progress_bars = show
    logging.getLogger("ray.data").setLevel(logging.INFO if show else logging.WARNING)
    if workers is None:
        per_worker = max(stage.num_cpus, 1e-3)
        workers = max(1, int(ray.cluster_resources().get("CPU", 1) // per_worker))
    workers = max(1, min(workers, len(pending)))
    items = ray.data.from_items([{"shard": int(k)} for k in pending], override_num_blocks=len(pending))
    done = items.map_batches(_ShardWorker, batch_size=1, compute=ray.data.ActorPoolStrategy(size=workers),
                             num_cpus=stage.num_cpus,
                             num_gpus=stage.num_gpus or None,
                             fn_constructor_kwargs={"stage": stage, "folder": str(store.folder)}).take_all()
    finished = sorted(int(row["shard"]) for row in done)
    if sorted(set(finished)) != sorted(pending):
        raise RuntimeError(f"Ray returned shards {finished[:10]}..., expected {list(pending)[:10]}...")


def run_tasks_on_ray(fn: Callable, calls: Sequence[dict], num_cpus: float, num_gpus: float) -> list:
    """One Ray task per call (retried up to 3 times if its worker dies), results in call order.
    An argument object passed to several calls (the training images of every ensemble member)
    goes into the object store once."""
    ensure_ray()
    remote = ray.remote(num_cpus=num_cpus, num_gpus=num_gpus, max_retries=3)(fn)
    stored: dict[int, ray.ObjectRef] = {}

    def ref(value):
        if isinstance(value, (int, float, str, bool, type(None))):
            return value
        if id(value) not in stored:
            stored[id(value)] = ray.put(value)
        return stored[id(value)]

    return ray.get([remote.remote(**{k: ref(v) for k, v in kwargs.items()}) for kwargs in calls])


__all__ = ["ensure_ray", "run_shards_on_ray", "run_tasks_on_ray"]
