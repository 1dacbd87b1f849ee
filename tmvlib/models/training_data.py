"""The images a classifier is fitted on, as one object (:class:`TrainingData`)."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True, eq=False)
class TrainingData:
    """The images a classifier is fitted on: uint8 radiographs ``(N, 1, H, W)`` with labels
    ``(N,)`` in {0, 1}, for training and for early stopping (``val_*``: the selection patients,
    :func:`tmvlib.data.folds.training_roles`)."""

    train_images: torch.Tensor
    train_labels: np.ndarray
    val_images: torch.Tensor
    val_labels: np.ndarray

    def __post_init__(self):
        for split, images, labels in (("train", self.train_images, self.train_labels),
                                      ("validation", self.val_images, self.val_labels)):
            if len(images) != len(labels):
                raise ValueError(f"{split}: {len(images)} images but {len(labels)} labels")

    @classmethod
    def from_roles(cls, roles: Mapping, images: Mapping[str, torch.Tensor]) -> TrainingData:
        """The data of a model trained on the ``training`` role and stopped early on the
        ``selection`` role (:func:`tmvlib.data.folds.training_roles`, :func:`~tmvlib.data.folds.role_sets`).

        Args:
            roles: role -> its images' rows, labels in ``label``.
            images: role -> those rows' decoded images, uint8 ``(N, 1, H, W)`` in the same order.
        """
        return cls(images["training"], roles["training"]["label"].to_numpy(), images["selection"],
                   roles["selection"]["label"].to_numpy())

    def train_rows(self, rows: np.ndarray) -> TrainingData:
        """The same validation set with training rows ``rows`` (a resample may repeat rows)."""
        return TrainingData(self.train_images[rows], np.asarray(self.train_labels)[rows], self.val_images,
                            self.val_labels)
