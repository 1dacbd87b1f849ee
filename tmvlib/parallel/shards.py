"""Image shards on disk: the unit of work, of resumption and of counting for per-image stages.

A stage's records (one row per image, ``image_id`` unique) are cut into shards of consecutive
rows. The folder of a stage run holds

- ``manifest.parquet``: the records with their ``shard`` number, written once per run;
- ``stage.json``: what produced the shards (the stage's name and parameters, the records'
  digest, the shard size); a rerun with anything different starts afresh;
- ``shard-00000.parquet`` ...: one result file per finished shard, written atomically, so a
  shard file is complete or absent, whatever killed its worker.

A rerun after a crash computes only the shards without a file. Reading back checks that every
image of the manifest is in exactly one row of the results: none lost, none counted twice.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd

from ..atomic import atomic_write, atomic_write_text, remove_stale_temporaries

SHARD = "shard"
MANIFEST = "manifest.parquet"
STAGE = "stage.json"


class ShardError(RuntimeError):
    """Shard results that do not match their manifest (an image lost, duplicated or foreign)."""


def plan_shards(records: pd.DataFrame, shard_size: int) -> pd.DataFrame:
    """``records`` with a ``shard`` column: rows ``[k * shard_size, (k + 1) * shard_size)`` form
    shard ``k`` (row order kept, so the plan depends only on the records and the size).

    Raises:
        ValueError: ``shard_size`` < 1, no ``image_id`` column, or duplicate image ids (named).
    """
    if shard_size < 1:
        raise ValueError(f"shard_size must be >= 1, got {shard_size}")
    if "image_id" not in records.columns:
        raise ValueError(f"records need an 'image_id' column, got {list(records.columns)}")
    duplicated = records["image_id"][records["image_id"].duplicated()]
    if len(duplicated):
        raise ValueError(f"duplicate image_id in the records: {sorted(set(duplicated))[:5]}")
    out = records.reset_index(drop=True).copy()
    out[SHARD] = out.index // shard_size
    return out


def records_digest(records: pd.DataFrame) -> str:
    """sha256 of the records' content (columns, order and values)."""
    hashed = pd.util.hash_pandas_object(records.reset_index(drop=True), index=True).to_numpy()
    return hashlib.sha256(json.dumps(list(records.columns)).encode() + hashed.tobytes()).hexdigest()


class ShardStore:
    """The shard folder of one stage run (see the module docstring)."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)

    def shard_path(self, shard: int) -> Path:
        """The result file of shard ``shard``."""
        return self.folder / f"shard-{shard:05d}.parquet"

    def prepare(self, records: pd.DataFrame, shard_size: int, identity: dict) -> pd.DataFrame:
        """Plan the shards and keep the finished ones of an identical earlier run; anything else
        in the folder (another stage, other records or another shard size) is removed.

        Returns:
            the planned records (:func:`plan_shards`).
        """
        planned = plan_shards(records, shard_size)
        stamp = {**identity, "records": records_digest(records), "shard_size": shard_size}
        stage_file = self.folder / STAGE
        previous = json.loads(stage_file.read_text()) if stage_file.exists() else None
        if previous != json.loads(json.dumps(stamp, sort_keys=True, default=str)):
            self.clear()
            self.folder.mkdir(parents=True, exist_ok=True)
            atomic_write(self.folder / MANIFEST, lambda tmp: planned.to_parquet(tmp, index=False))
            atomic_write_text(stage_file, json.dumps(stamp, sort_keys=True, default=str))
        remove_stale_temporaries(self.folder)
        return planned

    def clear(self) -> None:
        """Remove the manifest, the stamp and every shard file."""
        for path in [*self.folder.glob("shard-*.parquet"), self.folder / MANIFEST, self.folder / STAGE]:
            path.unlink(missing_ok=True)

    def manifest(self) -> pd.DataFrame:
        """The planned records, with their ``shard`` column."""
        return pd.read_parquet(self.folder / MANIFEST)

    def records(self, shard: int) -> pd.DataFrame:
        """The manifest rows of one shard (without the ``shard`` column)."""
        manifest = pd.read_parquet(self.folder / MANIFEST, filters=[(SHARD, "==", shard)])
        return manifest.drop(columns=SHARD).reset_index(drop=True)

    def finished(self) -> set[int]:
        """Shards with a result file."""
        return {int(p.stem.split("-")[1]) for p in self.folder.glob("shard-*.parquet")}

    def write(self, shard: int, records: pd.DataFrame, result: pd.DataFrame) -> int:
        """Check ``result`` against the shard's ``records`` and write it atomically.

        Raises:
            ShardError: the result's ``image_id`` values are not the shard's, each exactly once.
        Returns:
            the number of rows written.
        """
        check_rows(result, records, f"shard {shard}")
        atomic_write(self.shard_path(shard), lambda tmp: result.to_parquet(tmp, index=False))
        return len(result)

    def read(self) -> pd.DataFrame:
        """Every shard's results in manifest order, checked against the manifest."""
        manifest = self.manifest()
        missing = sorted(set(manifest[SHARD]) - self.finished())
        if missing:
            raise ShardError(f"{self.folder}: shards {missing[:10]} have no result file")
        parts = [pd.read_parquet(self.shard_path(k)) for k in sorted(set(manifest[SHARD]))]
        result = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame({"image_id": []})
        check_rows(result, manifest, str(self.folder))
        return result


def check_rows(result: pd.DataFrame, records: pd.DataFrame, where: str) -> None:
    """Every image of ``records`` once in ``result``, in the same order, and nothing else."""
    if "image_id" not in result.columns:
        raise ShardError(f"{where}: the result has no 'image_id' column")
    got, want = result["image_id"].tolist(), records["image_id"].tolist()
    if got == want:
        return
    counts = result["image_id"].value_counts()
    twice = sorted(counts.index[counts > 1])[:5]
    lost = sorted(set(want) - set(got))[:5]
    foreign = sorted(set(got) - set(want))[:5]
    raise ShardError(f"{where}: {len(got)} result rows for {len(want)} images; counted twice {twice}, "
                     f"lost {lost}, not in the manifest {foreign}" if (twice or lost or foreign)
                     else f"{where}: result rows are not in the manifest's order")


def ids_key(image_ids) -> str:
    """16 hex characters of the sha256 of ``image_ids`` in order: the name of a file a stage
    writes beside its shard results for one shard's images (maps' sums, per-perturbation rows,
    features)."""
    return hashlib.sha256("\n".join(map(str, image_ids)).encode()).hexdigest()[:16]


def save_shard_array(folder: str | Path, image_ids, array) -> str:
    """Write ``array`` for one shard's ``image_ids`` as ``<folder>/<key>.npy`` (atomically; ``key``
    = :func:`ids_key`), a file a stage keeps beside its shard results; returns the key."""
    key = ids_key(image_ids)
    atomic_write(Path(folder) / f"{key}.npy", lambda tmp: np.save(tmp, array))
    return key


def load_shard_arrays(folder: str | Path, keys) -> np.ndarray:
    """The arrays :func:`save_shard_array` wrote under ``keys`` (each distinct key once, in order),
    concatenated along their first axis."""
    return np.concatenate([np.load(Path(folder) / f"{key}.npy") for key in pd.unique(pd.Series(keys))])


__all__ = ["SHARD", "ShardError", "ShardStore", "check_rows", "ids_key", "load_shard_arrays", "plan_shards",
           "records_digest", "save_shard_array"]
