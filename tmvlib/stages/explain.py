"""Per-image explanation stages: Grad-CAM and Score-CAM maps (on the shared :class:`MapStage`),
chapter 06's explanation stability (every source, or its TTA source alone), shardable over
:mod:`tmvlib.parallel`."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..atomic import atomic_write
from ..explain.gradcam import gradcam
from ..explain.run import explain_images, explain_with_stats
from ..explain.scorecam import ScoreCAM
from ..explain.stability import SOURCES, StabilityProtocol, check_sources, stability_by_source, tta_stability
from ..explain.sanity import randomized_copy
from ..explain.store import load_heatmaps, save_heatmaps, save_map_sum
from ..fingerprint import sha256_file
from ..models.fit import load_trained_classifier
from ..parallel import load_shard_arrays, save_shard_array
from .base import CheckpointStage


class MapStage(CheckpointStage):
    """The shared base of stages that write one map per image: ``<heatmap_dir>/<image_id>.npy``
    (:mod:`tmvlib.explain.store`; float16, or ``map_dtype="float32"`` for maps read back exactly),
    and return a summary row per image.

    ``keep_maps=False``: no file per image; each shard writes the float64 sum of its maps under
    ``<heatmap_dir>/sums/`` (rows name it in ``map_sum``), from which :meth:`mean_map` gives the
    mean map (chapter 04's prior map over the training images: a few MB instead of ~200 KB per
    image).
    """

    output_folders = ("heatmap_dir",)

    def __init__(self, checkpoint: str, image_size: int, heatmap_dir: str, map_dtype: str = "float16",
                 threads: int | None = None, keep_maps: bool = True):
        super().__init__(checkpoint, image_size, threads)
        self.heatmap_dir, self.map_dtype, self.keep_maps = str(heatmap_dir), map_dtype, bool(keep_maps)

    def save(self, records: pd.DataFrame, maps: np.ndarray, head: str | None = None) -> pd.DataFrame:
        """Write the shard's maps (N,H,W), or their sum; returns ``image_id, map_mean, map_peak``
        (float32 mean of each map, flat index of its maximum) and, without kept maps, ``map_sum``."""
        ids = records["image_id"].tolist()
        flat = maps.reshape(len(maps), -1)
        rows = pd.DataFrame({"image_id": records["image_id"].to_numpy(), "map_mean": flat.mean(1),
                             "map_peak": flat.argmax(1)})
        if not self.keep_maps:
            return rows.assign(map_sum=save_map_sum(self._folder(head) / "sums", ids, maps))
        save_heatmaps(self._folder(head), ids, maps, self.map_dtype)
        return rows

    def maps(self, image_ids, head: str | None = None) -> np.ndarray:
        """The written maps (N,H,W) of ``image_ids`` (of the extra head ``head`` when given)."""
        if not self.keep_maps:
            raise ValueError(f"{self.name}: maps were not kept (keep_maps=False); use mean_map")
        return load_heatmaps(self._folder(head), list(image_ids))

    def mean_map(self, rows: pd.DataFrame, head: str | None = None) -> np.ndarray:
        """float64 (H,W): the mean of the maps behind ``rows`` (this stage's
        :func:`tmvlib.parallel.map_images` result with ``keep_maps=False``), from the per-shard
        sums added in row order (the same on every executor).

        Raises:
            ValueError: no rows, or rows without ``map_sum`` (maps were kept, or another stage).
        """
        if "map_sum" not in rows or not len(rows):
            raise ValueError(f"{self.name}: no rows with a 'map_sum'; build the stage with keep_maps=False")
        folder = self._folder(head) / "sums"
        total = None
        for name in pd.unique(rows["map_sum"]):
            part = np.load(folder / name)
            total = part if total is None else total + part
        return total / len(rows)

    def _folder(self, head: str | None) -> Path:
        return Path(self.heatmap_dir) if head is None else Path(self.heatmap_dir) / "heads" / head


class GradCAMStage(MapStage):
    """Grad-CAM maps (captum, min-max scaled) of each record's image, written under
    ``heatmap_dir`` (what chapters 04-08 read), in batches of ``batch_size`` from the shard's
    first image (a shard size that is a multiple of it keeps a whole set's batches).

    Returns (from :meth:`run`):
        ``image_id, map_mean, map_peak`` and ``seconds`` (the shard's explaining time per image),
        one row per record; the maps themselves are the files (or, with ``keep_maps=False``,
        their per-shard sums: :meth:`MapStage.mean_map`).
    """

    name = "gradcam"

    def __init__(self, checkpoint: str, image_size: int, heatmap_dir: str, batch_size: int = 16,
                 map_dtype: str = "float16", threads: int | None = None, keep_maps: bool = True):
        super().__init__(checkpoint, image_size, heatmap_dir, map_dtype, threads, keep_maps)
        self.batch_size = int(batch_size)

    def run(self, records: pd.DataFrame) -> pd.DataFrame:
        """Explain the shard's images, write their maps, return one summary row per image."""
        maps, seconds = explain_images(lambda x: gradcam(self._model, x), self.images(records), self._weights,
                                       self.batch_size, progress=False)
        return self.save(records, maps).assign(seconds=seconds)


class ScoreCAMStage(MapStage):
    """Score-CAM maps (:class:`tmvlib.explain.scorecam.ScoreCAM`, exact unless ``top_k``) of each
    record's image, written as ``.npy`` files under ``heatmap_dir`` (float16, or ``map_dtype=
    "float32"`` for maps read back exactly); the scoring engine is built once per worker.

    ``random_head_seed``: also map the cascade's first randomisation step, the classifier head
    re-initialised as :func:`tmvlib.explain.sanity.randomized_copy` does it, from the same masked
    forwards (no extra cost); those maps go under ``<heatmap_dir>/heads/fc``.
    ``keep_maps=False``: per-shard sums only (:meth:`MapStage.mean_map`; chapter 05's own
    Score-CAM prior over a training sample).

    Returns (from :meth:`run`):
        ``image_id, map_mean, map_peak`` and Score-CAM's per-image statistics (``forwards``:
        distinct masked inputs scored, ``channels``, ``constant``), and ``seconds`` (the shard's
        explaining time per image, engine set-up excluded), one row per record.
    """

    name = "scorecam"

    def __init__(self, checkpoint: str, image_size: int, heatmap_dir: str, score: str = "prob",
                 weighting: str = "cic", batch_size: int = 8, top_k: int | None = None, engine: str = "auto",
                 precision: str = "fp32", random_head_seed: int | None = None, map_dtype: str = "float16",
                 threads: int | None = None, keep_maps: bool = True):
        super().__init__(checkpoint, image_size, heatmap_dir, map_dtype, threads, keep_maps)
        self.score, self.weighting, self.batch_size = score, weighting, int(batch_size)
        self.top_k, self.engine, self.precision, self.random_head_seed = top_k, engine, precision, random_head_seed
        self._cam = None

    def setup(self) -> None:
        """Rebuild the classifier and prepare its scoring engine (once per worker)."""
        super().setup()
        heads = None if self.random_head_seed is None else {
            "fc": randomized_copy(self._model, "fc", self.random_head_seed).fc}
        self._cam = ScoreCAM(self._model, score=self.score, weighting=self.weighting, batch_size=self.batch_size,
                             top_k=self.top_k, engine=self.engine, precision=self.precision, heads=heads)
        self._cam.prepare((self.image_size, self.image_size))

    def run(self, records: pd.DataFrame) -> pd.DataFrame:
        """Explain the shard's images one by one, write their maps, return one row per image."""
        head_maps: dict[str, np.ndarray] = {}
        maps, seconds, stats = explain_with_stats(self._cam, self.images(records), self._weights, batch_size=1,
                                                  progress=False, head_maps=head_maps)
        for name, stack in head_maps.items():
            self.save(records, stack, head=name)
        return self.save(records, maps).assign(**{c: stats[c].to_numpy() for c in stats.columns}, seconds=seconds)

    def scorer(self) -> ScoreCAM:
        """This process's set-up Score-CAM (built on first use when the shards ran elsewhere or
        were reused): its ``logits`` are the scoring engine's forward, for other forward-only
        work on the same model (deletion and insertion curves)."""
        if self._cam is None:
            self.setup()
        return self._cam



class TTAStabilityStage(CheckpointStage):
    """Chapter 06's TTA explanation stability of each record's image
    (:func:`tmvlib.explain.stability.tta_stability`): records need ``prob`` (the unperturbed
    probability, for label flips at ``threshold``).

    Returns (from :meth:`run`):
        one :func:`~tmvlib.explain.similarity.stability_summary` row per image (``image_id``,
        ``instability``, ``flip_rate``, ...).
    """

    name = "tta stability"

    def __init__(self, checkpoint: str, image_size: int, threshold: float, protocol: StabilityProtocol,
                 threads: int | None = None):
        super().__init__(checkpoint, image_size, threads)
        self.threshold, self.protocol = float(threshold), protocol

    def run(self, records: pd.DataFrame) -> pd.DataFrame:
        """The shard's stability rows, in record order."""
        if "prob" not in records.columns:
            raise KeyError(f"{self.name}: records need a 'prob' column, got {list(records.columns)}")
        rows = tta_stability(self._model, self.images(records), self._weights, records["prob"].to_numpy(np.float64),
                             self.threshold, records["image_id"].tolist(), self.protocol)
        return rows.set_index("image_id").loc[records["image_id"]].reset_index()


class SourceStabilityStage(CheckpointStage):
    """Chapter 06's explanation stability of each record's image under every source
    (:func:`tmvlib.explain.stability.stability_by_source`: MC dropout, the other ensemble
    members, TTA), in batches of ``batch_size`` from the shard's first image; records need
    ``prob`` (the unperturbed probability, for label flips at ``threshold``).

    Each shard writes, under ``detail_dir`` and named by the sha256 of its image ids (16 hex):
    ``<key>.parquet``, its per-perturbation stability rows with the perturbed prediction's
    probability (``prob``), and ``<key>.npy``, float32 (N, metric_size, metric_size) unperturbed
    Grad-CAMs (the reference maps). :meth:`collect` reads them back in record order.

    Args:
        checkpoint: the explained model; ``member_checkpoints``: the other ensemble members (none
            needed without the ``ensemble`` source).
        sources: the sources measured (:func:`~tmvlib.explain.stability.check_sources`).
        the rest: as :func:`~tmvlib.explain.stability.stability_by_source`.
    Returns (from :meth:`run`):
        ``image_id, detail`` (the shard's file key), one row per record.
    """

    name = "source stability"

    def __init__(self, checkpoint: str, member_checkpoints: Sequence[str], image_size: int, detail_dir: str,
                 threshold: float, protocol: StabilityProtocol, threads: int | None = None,
                 sources: Sequence[str] = SOURCES):
        super().__init__(checkpoint, image_size, threads)
        self.member_checkpoints, self.detail_dir = [str(c) for c in member_checkpoints], str(detail_dir)
        self.threshold, self.protocol = float(threshold), protocol
        self.sources = list(check_sources(sources))
        self._others = None

    output_folders = ("detail_dir",)

    def identity(self) -> dict:
        """As :meth:`CheckpointStage.identity`, with the members' sha256 in place of their paths
        (and ``sources`` only when not every source: shards of every source keep their identity)."""
        identity = {k: v for k, v in super().identity().items() if k != "member_checkpoints"}
        if tuple(self.sources) == SOURCES:
            identity.pop("sources")
        return {**identity, "member_sha256": [sha256_file(c) for c in self.member_checkpoints]}

    def setup(self) -> None:
        """Rebuild the explained model and the other members (once per worker)."""
        super().setup()
        self._others = [load_trained_classifier(c)[0] for c in self.member_checkpoints]

    def run(self, records: pd.DataFrame) -> pd.DataFrame:
        """The shard's stability under every source: write its rows and reference maps, return
        one row per image naming them."""
        if "prob" not in records.columns:
            raise KeyError(f"{self.name}: records need a 'prob' column, got {list(records.columns)}")
        ids = records["image_id"].tolist()
        result = stability_by_source(self._model, self._others, self.images(records), self._weights,
                                     records["prob"].to_numpy(), self.threshold, ids, self.protocol, self.sources)
        probs = np.concatenate([result.sources[source].probs.reshape(-1) for source in self.sources])
        key = save_shard_array(self.detail_dir, ids, result.reference)
        atomic_write(Path(self.detail_dir) / f"{key}.parquet", lambda tmp: result.rows.assign(prob=probs).to_parquet(tmp))
        return pd.DataFrame({"image_id": ids, "detail": key})

    def collect(self, rows: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray, dict[str, np.ndarray]]:
        """What :func:`~tmvlib.explain.stability.stability_by_source` returns for the records behind
        ``rows`` (this stage's :func:`tmvlib.parallel.map_images` result), from the shards' files:
        ``(stability rows, reference maps (N,h,w), source -> perturbed probabilities (N,P))``, the
        rows source by source, each in record order, as one unsharded call gives them."""
        detail = pd.concat([pd.read_parquet(Path(self.detail_dir) / f"{k}.parquet") for k in pd.unique(rows["detail"])],
                           ignore_index=True)
        reference = load_shard_arrays(self.detail_dir, rows["detail"])
        order = pd.Categorical(detail["source"], categories=self.sources, ordered=True)
        detail = detail.iloc[np.argsort(order.codes, kind="stable")].reset_index(drop=True)
        n, probs = len(rows), {}
        for source in self.sources:
            values = detail.loc[detail["source"] == source, "prob"].to_numpy()
            probs[source] = values.reshape(n, len(values) // n if n else 0)
        return detail.drop(columns="prob"), reference, probs


__all__ = ["GradCAMStage", "MapStage", "ScoreCAMStage", "SourceStabilityStage", "TTAStabilityStage"]
