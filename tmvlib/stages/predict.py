"""Per-image logits of a trained classifier, as a shardable stage (:mod:`tmvlib.parallel`)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from ..models import gray_to_input
from ..models.engine import ENGINES, build_engine
from ..models.precision import EVALUATION_PRECISION, resolve_device, resolve_precision
from ..models.train import predict_logits
from .base import CheckpointStage


class LogitsStage(CheckpointStage):
    """Logits of the classifier saved at ``checkpoint`` for each record's ``path``.

    Args:
        checkpoint, image_size, threads: as :class:`~tmvlib.stages.base.CheckpointStage`.
        batch_size: images per forward pass; a shard size that is a multiple of it gives the
            same batches as one unsharded :func:`~tmvlib.models.train.predict_logits` call.
        precision: ``"fp32"`` (default, :data:`~tmvlib.models.precision.EVALUATION_PRECISION`: the
            trained model's function on every host), ``"bf16"`` or ``"auto"``.
        device: as :func:`~tmvlib.models.train.predict_logits`.
        engine: ``"auto"`` (default), ``"torch"``, ``"openvino"`` or ``"onnxruntime"``: a forward
            engine of :func:`tmvlib.models.engine.build_engine` at ``precision``, built once per
            worker; ``"eager"``: :func:`~tmvlib.models.train.predict_logits`, the module as it is.
            Engines agree with eager float32 to float32 rounding (tested within 1e-3; 1.1e-5 on the
            default run's 401 images); on this 2-core EPYC OpenVINO fp32 scored 313 img/s against
            165 for eager fp32 and 280 for torch's bf16 autocast (README).
    Returns (from :meth:`run`):
        ``image_id, logit`` (float32), ``engine`` (the engine that scored it: ``"openvino"``,
        ``"onnxruntime"``, ``"torch"`` or ``"eager"``; ``auto`` may resolve differently on
        different workers), one row per record.
    """

    name = "logits"

    def __init__(self, checkpoint: str, image_size: int, batch_size: int = 64,
                 precision: str = EVALUATION_PRECISION, device: str = "auto", threads: int | None = None,
                 engine: str = "auto"):
        if engine not in ("eager", *ENGINES):
            raise ValueError(f"{self.name}: engine must be one of {('eager', *ENGINES)}, got {engine!r}")
        super().__init__(checkpoint, image_size, threads)
        self.batch_size, self.precision, self.device, self.engine = int(batch_size), precision, device, engine
        self._engine = self._device = None

    def setup(self) -> None:
        """Rebuild the classifier and, unless ``engine="eager"``, its forward engine (once per worker)."""
        super().setup()
        if self.engine != "eager":
            self._device = resolve_device(self.device)
            self._engine = build_engine(self._model.eval().to(self._device), (self.image_size, self.image_size),
                                        self.engine, threads=self.threads,
                                        precision=resolve_precision(self.precision, self._device))

    def run(self, records: pd.DataFrame) -> pd.DataFrame:
        """Decode the shard's images and score them: ``image_id, logit, engine``."""
        images = self.images(records)
        if self._engine is None:
            logits = predict_logits(self._model, self._weights, images, batch_size=self.batch_size,
                                    precision=self.precision, device=self.device, progress=False)
        else:
            with torch.inference_mode():
                logits = np.concatenate([
                    self._engine(gray_to_input(images[i:i + self.batch_size], self._weights).to(self._device)).reshape(-1)
                    .cpu().numpy() for i in range(0, len(images), self.batch_size)])
        return pd.DataFrame({"image_id": records["image_id"].to_numpy(), "logit": logits.astype("float32"),
                             "engine": "eager" if self._engine is None else self._engine.name})


__all__ = ["LogitsStage"]
