"""One classifier per patient fold, each the baseline recipe on its own training patients.

The model of fold ``f`` trains on its ``training`` role and stops early on its ``selection`` role
(:func:`tmvlib.data.folds.role_sets`); its calibration and test folds never touch it. Its recipe
is the baseline's except the data hash (:func:`fold_recipe`), so its checkpoint is reused exactly
when the same recipe and the same training and selection patients made it.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pandas as pd
import torch

from ..data.folds import fold_model_file
from ..data.splits import split_hash
from .fit import FittedModel, fit_or_load
from .recipe import ModelRecipe, TrainingData

__all__ = ["fit_fold_models", "fold_checkpoint", "fold_recipe", "fold_training_data"]


def fold_recipe(recipe: ModelRecipe, sets: Mapping[str, pd.DataFrame]) -> ModelRecipe:
    """``recipe`` keyed by the fold's ``training`` and ``selection`` images (their ``split``
    column set to the role, so the same images in other roles hash differently)."""
    fitted_on = pd.concat([sets[role].assign(split=role) for role in ("training", "selection")])
    return recipe.with_split(split_hash(fitted_on))


def fold_checkpoint(folder: Path, fold: int) -> Path:
    """``<folder>/fold_<fold>.pt``: the checkpoint of fold ``fold``'s model
    (:func:`tmvlib.data.folds.fold_model_file`)."""
    return Path(folder) / fold_model_file(fold)


def fold_training_data(roles: Mapping[str, pd.DataFrame], images: Callable[[pd.DataFrame], torch.Tensor]) -> TrainingData:
    """A fold's :class:`~tmvlib.models.recipe.TrainingData`: its ``training`` role to train on,
    its ``selection`` role for early stopping."""
    return TrainingData.from_roles(roles, {role: images(roles[role]) for role in ("training", "selection")})


def fit_fold_models(recipe: ModelRecipe, sets: Mapping[int, Mapping[str, pd.DataFrame]],
                    images: Callable[[pd.DataFrame], torch.Tensor], folder: Path, *, retrain: bool = False,
                    progress: bool = True, same_as: Sequence[Path] = ()) -> dict[int, FittedModel]:
    """Train (or reuse) the model of every fold.

    Args:
        recipe: the baseline's recipe; each fold model differs from it only in its data hash.
        sets: fold -> role -> images (:func:`tmvlib.data.folds.role_sets`), labels in ``label``.
        images: rows of a frame -> uint8 ``(N, 1, H, W)`` images in its order
            (e.g. a :class:`tmvlib.data.tensors.DecodedImages`).
        folder: where ``fold_<f>.pt`` live (:func:`fold_checkpoint`).
        same_as: checkpoints that may already hold a fold's recipe (chapter 02's baseline is the
            deployed fold model under ``split_source: folds``): copied, not retrained.
    Returns:
        fold -> :class:`~tmvlib.models.fit.FittedModel`, folds in ascending order.
    """
    fitted = {}
    for fold in sorted(sets):
        fitted[fold] = fit_or_load(fold_checkpoint(folder, fold), fold_recipe(recipe, sets[fold]),
                                   fold_training_data(sets[fold], images), retrain=retrain, progress=progress,
                                   same_as=same_as)
    return fitted
