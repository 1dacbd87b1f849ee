"""Train-or-reuse: a checkpoint made with the same config is loaded instead of retrained."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..data.splits import split_hash
from .checkpoint import copy_checkpoint, load_checkpoint, reusable_checkpoint, save_checkpoint
from .classifier import XrayClassifier, build_classifier
from .recipe import TRAINING_CODE_VERSION, ModelRecipe, TrainingData
from .train import TrainResult, seed_everything, train_classifier
from .weights import WeightsInfo

__all__ = ["TRAINING_CODE_VERSION", "FittedModel", "ModelRecipe", "TrainingData", "fit_or_load",
           "fit_permuted_label_model", "load_trained_classifier"]


@dataclass
class FittedModel:
    """A trained (or reused) classifier with its weights' provenance, training history (one row
    per epoch), best epoch, checkpoint path and sha256, and the checkpoint's metadata record."""

    model: XrayClassifier
    weights: WeightsInfo
    history: pd.DataFrame
    best_epoch: int
    reused: bool              # True when loaded from a matching checkpoint
    checkpoint: Path
    sha256: str
    record: dict


def fit_or_load(checkpoint: Path, recipe: ModelRecipe, data: TrainingData, *, retrain: bool = False,
                progress: bool = True, train_cache: torch.Tensor | None = None,
                val_cache: torch.Tensor | None = None, same_as: Sequence[Path] = ()) -> FittedModel:
    """Load ``checkpoint`` when it was trained from ``recipe`` (:meth:`ModelRecipe.key`), else
    train the recipe on ``data`` and save it. Either way the model comes back the same: in eval
    mode, on the CPU, in the default memory format (so a run that trains and a rerun that reuses
    compute the same numbers).

    A checkpoint whose bytes do not match its recorded sha256 is refused (CheckpointMismatch),
    never silently retrained over. ``train_cache``/``val_cache``: frozen-stage outputs shared
    with other models on the same trunk (see :func:`tmvlib.models.train.build_train_cache`).
    ``same_as``: other checkpoints one of which may hold this very recipe (the deployed fold model
    is chapter 02's baseline under ``split_source: folds``): it is copied rather than retrained.
    """
    seed_everything(recipe.train.seed)  # the new head's initial weights come from the global RNG
    model, info = recipe.build()
    config = recipe.key(info)
    reusable = not retrain and reusable_checkpoint(checkpoint, config)
    if not retrain and not reusable:
        twin = next((Path(p) for p in same_as if reusable_checkpoint(p, config)), None)
        if twin is not None:
            copy_checkpoint(twin, checkpoint)
            reusable = True
    if reusable:
        meta = load_checkpoint(model, checkpoint, expected_config=config)
        record = meta["record"]
        return FittedModel(model.eval(), info, pd.DataFrame(record["history"]), record["best_epoch"],
                           True, checkpoint, meta["sha256"], record)
    result: TrainResult = train_classifier(model, info, data, recipe.train, progress=progress,
                                           train_cache=train_cache, val_cache=val_cache)
    record = {"history": result.history.to_dict(orient="list"), "best_epoch": result.best_epoch,
              "best_val_auroc": result.best_val_auroc, "precision": result.precision,
              "device": result.device, "seconds": result.seconds, "weights": info.to_dict()}
    digest = save_checkpoint(model, checkpoint, config, record)
    # As a reused checkpoint comes back: on the CPU, in the default memory format. Training may
    # leave it on a GPU or in channels-last, whose kernels round differently (Grad-CAMs moved by
    # up to 4e-5 between a fresh run and a rerun that reused the checkpoints).
    model = model.to("cpu", memory_format=torch.contiguous_format)
    return FittedModel(model.eval(), info, result.history, result.best_epoch, False, checkpoint,
                       digest, record)


def load_trained_classifier(checkpoint: str | Path) -> tuple[XrayClassifier, WeightsInfo, dict]:
    """A trained classifier from its checkpoint alone, for chapters that explain or evaluate it.

    The record beside the checkpoint names the backbone, pretrained weights, dropout and frozen
    stages; the model is rebuilt from them and the trained state loaded (sha256 checked).
    Returns (model in eval mode, WeightsInfo, the checkpoint's config).
    Raises FileNotFoundError / CheckpointMismatch naming the file (see ``load_checkpoint``), also
    when the pretrained weights file differs from the one the checkpoint was trained from.
    """
    from .checkpoint import CheckpointMismatch, read_checkpoint_meta

    config = read_checkpoint_meta(checkpoint)["config"]
    model, info = build_classifier(config["backbone"], config["weights"], dropout=config["dropout"],
                                   frozen_stages=config["frozen_stages"])
    if config.get("weights_sha256") not in (None, info.sha256):
        raise CheckpointMismatch(f"checkpoint {checkpoint} was trained from pretrained weights "
                                 f"{config['weights_sha256'][:12]}…, this install has "
                                 f"{str(info.sha256)[:12]}…")
    load_checkpoint(model, checkpoint)
    return model.eval(), info, config


def fit_permuted_label_model(checkpoint: Path, baseline: dict, train_images: torch.Tensor,
                             train_labels: np.ndarray, image_ids, seed: int = 0,
                             progress: bool = False) -> FittedModel:
    """The data-randomisation model of Adebayo et al. (2018, "Sanity Checks for Saliency Maps",
    section 3.2): the baseline's recipe trained on the training images with their labels
    randomly permuted (``numpy`` ``default_rng(seed).permutation``), so whatever it learns is
    noise. Same backbone, pretrained weights, frozen stages, dropout, epochs, batch size and
    learning rate as ``baseline`` (the checkpoint config of chapter 02); no augmentation, no
    early stopping, and the epoch kept is the one that fits the permuted labels best (its
    training AUROC on them, ``record["best_val_auroc"]``, says how much noise it memorised).
    Its training seed is ``baseline seed + 1 + seed``, never the baseline's: the new head's
    initial weights are drawn afresh (a shared initialisation would let the two maps agree
    through the start they share rather than anything learned).
    Reused from ``checkpoint`` when the same config trained it (train-or-reuse)."""
    recipe = ModelRecipe.from_checkpoint_config(baseline)
    permuted = np.random.default_rng(seed).permutation(np.asarray(train_labels))
    table = pd.DataFrame({"image_id": list(image_ids), "patient_id": "", "split": "train",
                          "label": permuted})
    recipe = replace(recipe.with_train(augment=False, augment_copies=0, patience=recipe.train.epochs,
                                       seed=recipe.train.seed + 1 + seed, cache_seed=None),
                     split_hash="permuted:" + split_hash(table))
    return fit_or_load(checkpoint, recipe, TrainingData(train_images, permuted, train_images, permuted),
                       progress=progress)
