"""Per-image explanation stages: Grad-CAM maps, and TTA explanation stability (chapter 06's TTA
source), shardable over :mod:`tmvlib.parallel`."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..explain.gradcam import gradcam
from ..explain.perturbations import Perturbation
from ..explain.run import explain_images, explain_with_stats
from ..explain.scorecam import ScoreCAM
from ..explain.stability import tta_stability
from ..explain.store import save_heatmaps
from .base import CheckpointStage


class GradCAMStage(CheckpointStage):
    """Grad-CAM maps (captum, min-max scaled) of each record's image, written as float16 ``.npy``
    files under ``heatmap_dir`` (:mod:`tmvlib.explain.store`, what chapters 04-08 read).

    Returns (from :meth:`run`):
        ``image_id, map_mean, map_peak`` (float32 mean of the map, flat index of its maximum),
        one row per record; the maps themselves are the files.
    """

    name = "gradcam"

    def __init__(self, checkpoint: str, image_size: int, heatmap_dir: str, batch_size: int = 16,
                 threads: int | None = None):
        super().__init__(checkpoint, image_size, threads)
        self.heatmap_dir, self.batch_size = str(heatmap_dir), int(batch_size)

    def run(self, records: pd.DataFrame) -> pd.DataFrame:
        """Explain the shard's images, write their maps, return one summary row per image."""
        maps, _ = explain_images(lambda x: gradcam(self._model, x), self.images(records), self._weights,
                                 self.batch_size, progress=False)
        save_heatmaps(Path(self.heatmap_dir), records["image_id"].tolist(), maps)
        flat = maps.reshape(len(maps), -1)
        return pd.DataFrame({"image_id": records["image_id"].to_numpy(), "map_mean": flat.mean(1),
                             "map_peak": flat.argmax(1)})


class ScoreCAMStage(CheckpointStage):
    """Score-CAM maps (:class:`tmvlib.explain.scorecam.ScoreCAM`, exact unless ``top_k``) of each
    record's image, written as float16 ``.npy`` files under ``heatmap_dir``; the scoring engine
    is built once per worker.

    Returns (from :meth:`run`):
        ``image_id, map_mean, map_peak, forwards`` (distinct masked inputs scored), one row per record.
    """

    name = "scorecam"

    def __init__(self, checkpoint: str, image_size: int, heatmap_dir: str, score: str = "prob",
                 weighting: str = "cic", batch_size: int = 8, top_k: int | None = None, engine: str = "auto",
                 precision: str = "fp32", threads: int | None = None):
        super().__init__(checkpoint, image_size, threads)
        self.heatmap_dir, self.score, self.weighting = str(heatmap_dir), score, weighting
        self.batch_size, self.top_k, self.engine, self.precision = int(batch_size), top_k, engine, precision
        self._cam = None

    def setup(self) -> None:
        """Rebuild the classifier and prepare its scoring engine (once per worker)."""
        super().setup()
        self._cam = ScoreCAM(self._model, score=self.score, weighting=self.weighting, batch_size=self.batch_size,
                             top_k=self.top_k, engine=self.engine, precision=self.precision)
        self._cam.prepare((self.image_size, self.image_size))

    def run(self, records: pd.DataFrame) -> pd.DataFrame:
        """Explain the shard's images one by one, write their maps, return one row per image."""
        maps, _, stats = explain_with_stats(self._cam, self.images(records), self._weights, batch_size=1,
                                            progress=False)
        save_heatmaps(Path(self.heatmap_dir), records["image_id"].tolist(), maps)
        flat = maps.reshape(len(maps), -1)
        return pd.DataFrame({"image_id": records["image_id"].to_numpy(), "map_mean": flat.mean(1),
                             "map_peak": flat.argmax(1), "forwards": stats["forwards"].to_numpy()})


class TTAStabilityStage(CheckpointStage):
    """Chapter 06's TTA explanation stability of each record's image
    (:func:`tmvlib.explain.stability.tta_stability`): records need ``prob`` (the unperturbed
    probability, for label flips at ``threshold``).

    Returns (from :meth:`run`):
        one :func:`~tmvlib.explain.similarity.stability_summary` row per image (``image_id``,
        ``instability``, ``flip_rate``, ...).
    """

    name = "tta stability"

    def __init__(self, checkpoint: str, image_size: int, threshold: float, perturbations: Sequence[Perturbation],
                 metric_size: int, top_k: float, grid: tuple[int, int], batch_size: int = 16,
                 threads: int | None = None):
        super().__init__(checkpoint, image_size, threads)
        self.threshold, self.perturbations = float(threshold), list(perturbations)
        self.metric_size, self.top_k, self.grid = int(metric_size), float(top_k), tuple(grid)
        self.batch_size = int(batch_size)

    def run(self, records: pd.DataFrame) -> pd.DataFrame:
        """The shard's stability rows, in record order."""
        if "prob" not in records.columns:
            raise KeyError(f"{self.name}: records need a 'prob' column, got {list(records.columns)}")
        rows = tta_stability(self._model, self.images(records), self._weights, records["prob"].to_numpy(np.float64),
                             self.threshold, records["image_id"].tolist(), perturbations=self.perturbations,
                             metric_size=self.metric_size, top_k=self.top_k, grid=self.grid,
                             batch_size=self.batch_size)
        return rows.set_index("image_id").loc[records["image_id"]].reset_index()


__all__ = ["GradCAMStage", "ScoreCAMStage", "TTAStabilityStage"]
