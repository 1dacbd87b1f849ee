"""The per-image stage: what :func:`tmvlib.parallel.map_images` runs on every shard."""
from __future__ import annotations

import pandas as pd

from .shards import ShardStore


class ImageStage:
    """A per-image analysis run shard by shard (see :mod:`tmvlib.parallel.executor`).

    Subclasses set ``name``, keep only picklable parameters as attributes (they identify the
    stage's results: a rerun with other values starts afresh) and implement :meth:`run`;
    :meth:`setup` is called once per worker before its first shard.
    """

    name = "stage"
    #: the version of what :meth:`run` returns: bump it when the rows change (other columns), so
    #: finished shards of the earlier version are computed again (version 1 is left out of the
    #: identity, so bumping one stage leaves every other stage's shards valid)
    version: int = 1
    #: resources of one worker on a Ray cluster (``num_cpus``, ``num_gpus``)
    num_cpus: float = 1
    num_gpus: float = 0

    def identity(self) -> dict:
        """What the results depend on: the stage's name, its version (when above 1) and its public
        attributes."""
        version = {} if self.version == 1 else {"version": self.version}
        return {"stage": self.name, **version, **{k: v for k, v in vars(self).items() if not k.startswith("_")}}

    def __getstate__(self) -> dict:
        """The parameters only: what :meth:`setup` built in this process (attributes starting
        with ``_``: a model, a compiled forward engine) travels as None, and the receiving
        worker's :meth:`setup` builds it again, so a stage used here can then go to Ray."""
        return {k: None if k.startswith("_") else v for k, v in vars(self).items()}

    def setup(self) -> None:
        """Load what every shard needs (called once per worker)."""

    def run(self, records: pd.DataFrame) -> pd.DataFrame:
        """One shard's records -> one row per record, same order, with its ``image_id``."""
        raise NotImplementedError


def run_shard(stage: ImageStage, store: ShardStore, shard: int) -> int:
    """Compute and write one shard; returns its number of rows."""
    records = store.records(shard)
    return store.write(shard, records, stage.run(records))


__all__ = ["ImageStage", "run_shard"]
