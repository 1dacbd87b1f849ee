"""What a trained classifier is made from: its recipe (:class:`ModelRecipe`) and its data
(:class:`TrainingData`), the two objects every training entry point takes.

A recipe is what a checkpoint is keyed by (:meth:`ModelRecipe.key`): the same recipe on the same
split reuses the checkpoint instead of retraining (:func:`tmvlib.models.fit.fit_or_load`).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from .classifier import XrayClassifier, build_classifier
from .train import TrainConfig
from .training_data import TrainingData
from .weights import WeightsInfo

__all__ = ["TRAINING_CODE_VERSION", "ModelRecipe", "TrainingData"]

# Bump when a change to the training code changes what a given config produces, so that old
# checkpoints stop matching instead of being reused.
TRAINING_CODE_VERSION = 2


@dataclass(frozen=True)
class ModelRecipe:
    """How one classifier is built and trained.

    Attributes:
        backbone: a registry name (:func:`tmvlib.models.backbones.get_backbone`).
        weights: the pretrained weights (``"auto"``: the backbone's packaged ImageNet weights).
        image_size: input side in pixels.
        dropout: dropout probability before the head.
        frozen_stages: leading stages kept at their ImageNet weights.
        train: the training config (:class:`tmvlib.models.train.TrainConfig`).
        split_hash: hash of the training and validation images (``tmvlib.data.splits.split_hash``).
    """

    backbone: str
    weights: str
    image_size: int
    dropout: float
    frozen_stages: int
    train: TrainConfig
    split_hash: str

    def key(self, info: WeightsInfo) -> dict:
        """The config a checkpoint is keyed by: model, pretrained weights file (``info``),
        training, data split, and the training code's version."""
        return {"code_version": TRAINING_CODE_VERSION, "backbone": self.backbone, "weights": self.weights,
                "weights_sha256": info.sha256, "image_size": self.image_size, "dropout": self.dropout,
                "frozen_stages": self.frozen_stages, "split_hash": self.split_hash, "train": self.train.to_dict()}

    def build(self) -> tuple[XrayClassifier, WeightsInfo]:
        """A fresh classifier of this recipe (pretrained trunk, new head drawn from the global RNG)
        and its weights' provenance: :func:`tmvlib.models.classifier.build_classifier`."""
        return build_classifier(self.backbone, self.weights, dropout=self.dropout, frozen_stages=self.frozen_stages)

    def with_train(self, **changes) -> ModelRecipe:
        """This recipe with ``changes`` to its training config (e.g. ``seed=3``)."""
        return replace(self, train=replace(self.train, **changes))

    def with_split(self, split_hash: str) -> ModelRecipe:
        """This recipe trained on another split (its hash keys the checkpoint)."""
        return replace(self, split_hash=split_hash)

    @classmethod
    def from_checkpoint_config(cls, config: Mapping) -> ModelRecipe:
        """The recipe a checkpoint was trained from (``read_checkpoint_meta(path)["config"]``).
        Values are kept as stored (no casts): the recipe's :meth:`key` then hashes as the
        checkpoint's own config does."""
        return cls(config["backbone"], config["weights"], config["image_size"], config["dropout"],
                   config["frozen_stages"], TrainConfig(**config["train"]), config["split_hash"])
