"""The shared base of stages that run a trained classifier over a shard's images."""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import torch

from ..data.tensors import load_image_tensor
from ..fingerprint import sha256_file
from ..models.fit import load_trained_classifier
from ..parallel import ImageStage


class CheckpointStage(ImageStage):
    """A stage that rebuilds the classifier saved at ``checkpoint`` once per worker and reads
    each shard's images (``path`` column) at ``image_size``.

    Args:
        checkpoint: a checkpoint written by :func:`tmvlib.models.fit.fit_or_load`.
        image_size: the model's input size (the checkpoint's ``image_size``).
        threads: torch threads per worker (None: leave torch's setting); pin it when results
            must be identical across executors.
    """

    #: attributes naming a folder the stage writes into; the identity holds them relative to the
    #: checkpoint's folder (both are in the run folder)
    output_folders: tuple[str, ...] = ()

    def __init__(self, checkpoint: str, image_size: int, threads: int | None = None):
        self.checkpoint, self.image_size, self.threads = str(checkpoint), int(image_size), threads
        self._model = self._weights = None

    def identity(self) -> dict:
        """The stage's parameters and the checkpoint's sha256, not its path, and its output
        folders relative to the checkpoint's folder: a retrained model at the same path
        invalidates the finished shards, a run folder moved or copied elsewhere (another mount on
        a cluster) keeps them and finds their files, and outputs sent to another folder are
        computed again."""
        identity = {k: v for k, v in super().identity().items() if k != "checkpoint"}
        base = Path(self.checkpoint).resolve().parent
        for name in self.output_folders:
            identity[name] = Path(os.path.relpath(Path(getattr(self, name)).resolve(), base)).as_posix()
        return {**identity, "checkpoint_sha256": sha256_file(self.checkpoint)}

    def setup(self) -> None:
        """Rebuild the classifier from its checkpoint (once per worker)."""
        if self.threads:
            torch.set_num_threads(self.threads)
        self._model, self._weights, _ = load_trained_classifier(self.checkpoint)

    def images(self, records: pd.DataFrame) -> torch.Tensor:
        """uint8 ``(N,1,S,S)`` images of the shard's ``path`` column, ``S = image_size``."""
        return load_image_tensor(records, self.image_size, progress=False)


__all__ = ["CheckpointStage"]
