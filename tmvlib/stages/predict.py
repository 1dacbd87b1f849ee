"""Per-image logits of a trained classifier, as a shardable stage (:mod:`tmvlib.parallel`)."""
from __future__ import annotations

import pandas as pd

from ..models.train import predict_logits
from .base import CheckpointStage


class LogitsStage(CheckpointStage):
    """Logits of the classifier saved at ``checkpoint`` for each record's ``path``.

    Args:
        checkpoint, image_size, threads: as :class:`~tmvlib.stages.base.CheckpointStage`.
        batch_size: images per forward pass; a shard size that is a multiple of it gives the
            same batches as one unsharded :func:`~tmvlib.models.train.predict_logits` call.
        precision, device: as :func:`~tmvlib.models.train.predict_logits`.
    Returns (from :meth:`run`):
        ``image_id, logit`` (float32), one row per record.
    """

    name = "logits"

    def __init__(self, checkpoint: str, image_size: int, batch_size: int = 64, precision: str = "auto",
                 device: str = "auto", threads: int | None = None):
        super().__init__(checkpoint, image_size, threads)
        self.batch_size, self.precision, self.device = int(batch_size), precision, device

    def run(self, records: pd.DataFrame) -> pd.DataFrame:
        """Decode the shard's images and score them: ``image_id, logit``."""
        logits = predict_logits(self._model, self._weights, self.images(records), batch_size=self.batch_size,
                                precision=self.precision, device=self.device, progress=False)
        return pd.DataFrame({"image_id": records["image_id"].to_numpy(), "logit": logits.astype("float32")})


__all__ = ["LogitsStage"]
