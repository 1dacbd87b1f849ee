"""Chapter 08's input reference, per image: intensity, file shape and pooled features, as a
shardable stage (:mod:`tmvlib.parallel`)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from ..data.images import load_image_and_colour
from ..data.tensors import intensity_stats, resize_gray
from ..models import gray_to_input
from ..parallel import load_shard_arrays, save_shard_array
from .base import CheckpointStage


class InputStatsStage(CheckpointStage):
    """What the trust card's input reference (:mod:`tmvlib.card.reference`) needs of each record's
    image: the mean and standard deviation of its [0, 1] intensities at the model size
    (:func:`tmvlib.data.tensors.intensity_stats`), the decoded file's height, width and colour
    spread (:func:`tmvlib.data.images.colour_spread`), and the
    classifier's pooled features (``model.features``, float32, batches of ``batch_size`` from the
    shard's first image: a shard size that is a multiple of it keeps one unsharded pass's batches).

    Each shard writes its features, float32 (N, F), as ``<feature_dir>/<key>.npy`` (``key``:
    :func:`tmvlib.parallel.save_shard_array`); :meth:`features` reads them back.

    Returns (from :meth:`run`):
        ``image_id, intensity_mean, intensity_std, height, width, colour_spread, features`` (the
        file key), one
        row per record.
    """

    name = "input stats"
    version = 2  # 2: the rows carry the file's colour spread (the card's colour check)
    output_folders = ("feature_dir",)

    def __init__(self, checkpoint: str, image_size: int, feature_dir: str, batch_size: int = 8,
                 threads: int | None = None):
        super().__init__(checkpoint, image_size, threads)
        self.feature_dir, self.batch_size = str(feature_dir), int(batch_size)

    @torch.no_grad()
    def run(self, records: pd.DataFrame) -> pd.DataFrame:
        """The shard's intensity statistics, file shapes and features (written to its file)."""
        images = torch.empty((len(records), 1, self.image_size, self.image_size), dtype=torch.uint8)
        shapes = np.empty((len(records), 2), dtype=np.int64)
        colour = np.empty(len(records))
        for i, path in enumerate(records["path"]):  # each file decoded once: its shape and colour, then the model input
            gray, colour[i] = load_image_and_colour(path)
            shapes[i], images[i] = gray.shape[:2], resize_gray(gray, self.image_size)
        means, stds = intensity_stats(images.numpy())
        model = self._model.eval()
        features = np.concatenate([model.features(gray_to_input(images[i:i + self.batch_size], self._weights)).numpy()
                                   for i in range(0, len(images), self.batch_size)])
        ids = records["image_id"].tolist()
        return pd.DataFrame({"image_id": ids, "intensity_mean": means, "intensity_std": stds,
                             "height": shapes[:, 0], "width": shapes[:, 1], "colour_spread": colour,
                             "features": save_shard_array(self.feature_dir, ids, features)})

    def features(self, rows: pd.DataFrame) -> np.ndarray:
        """float32 (N, F): the features of the records behind ``rows`` (this stage's
        :func:`tmvlib.parallel.map_images` result), in row order."""
        return load_shard_arrays(self.feature_dir, rows["features"])


__all__ = ["InputStatsStage"]
