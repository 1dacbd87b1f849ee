"""Chapter 06's explanation stability run over image shards: each set's images through
:class:`tmvlib.stages.SourceStabilityStage`, in this process or on Ray."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from ..explain.stability import StabilityBySet, StabilityProtocol
from ..parallel import map_images
from ..stages import SourceStabilityStage


def stability_by_set_on_shards(checkpoints: Sequence[str | Path], frames: Mapping[str, pd.DataFrame],
                               image_size: int, threshold: float, protocol: StabilityProtocol, *,
                               shard_dir: str | Path, executor: str = "local",
                               shard_size: int = 256) -> StabilityBySet:
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
        the rest: as :func:`tmvlib.explain.stability.stability_by_source`.
    """
    rows, reference, probs, folder = [], {}, {}, Path(shard_dir) / "stability"
    for name, frame in frames.items():
        stage = SourceStabilityStage(str(checkpoints[0]), [str(c) for c in checkpoints[1:]], image_size,
                                     str(folder / f"{name}-detail"), threshold, protocol)
        done = map_images(stage, frame, folder / name, shard_size, executor, progress=False)
        detail, reference[name], probs[name] = stage.collect(done)
        rows.append(detail.assign(set=name))
    return StabilityBySet(pd.concat(rows, ignore_index=True), reference, probs)
