"""Sampled logits of every fold model's methods on its own roles' images (cross-fitted evaluation).

The frozen stages of every fold model are the same ImageNet stages (only the later stages and
the head train), so their outputs are computed once for all images (``bank``) and each fold model
runs only its trainable part on them (:func:`frozen_stages_shared` checks that they are shared).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import torch

from ..data.tensors import select_images
from ..models.classifier import XrayClassifier
from ..models.feature_cache import bank_outputs
from ..models.fit import FittedModel
from .ensemble import member_logits
from .mc_dropout import mc_dropout_logits

__all__ = ["fold_method_logits", "frozen_stages_shared"]


def frozen_stages_shared(models: Sequence[XrayClassifier]) -> bool:
    """True when every model has the same number of frozen stages and the same weights and
    buffers in them (so one frozen-stage bank serves them all)."""
    def frozen_state(model: XrayClassifier) -> dict:
        paths = [path for stage in model.spec.stages[:model.frozen_stages] for path in stage]
        return {f"{path}.{name}": value for path in paths
                for name, value in model.trunk.get_submodule(path).state_dict().items()}

    first = frozen_state(models[0])

    def same(model: XrayClassifier) -> bool:
        state = frozen_state(model)
        return (model.frozen_stages == models[0].frozen_stages and state.keys() == first.keys()
                and all(torch.equal(v, first[k]) for k, v in state.items()))

    return all(same(m) for m in models[1:])


def fold_method_logits(models: Mapping[int, XrayClassifier], sets: Mapping[int, Mapping[str, pd.DataFrame]],
                       bank: torch.Tensor, bank_ids, roles: Sequence[str] = ("calibration", "test"),
                       mc_samples: int = 30, seed: int = 0,
                       ensembles: Mapping[int, Sequence[FittedModel]] | None = None) -> dict[int, dict[str, dict[str, np.ndarray]]]:
    """Per fold model, per method, per role: sampled logits ``(S, N_role)`` in the role's row order.

    Methods: ``"baseline"`` (the fold model, S = 1), ``"MC dropout"`` (``mc_samples`` dropout
    masks per image, :func:`tmvlib.uncertainty.mc_dropout.mc_dropout_logits`, keyed by image id as
    everywhere in the report) and, given ``ensembles`` (fold -> members, member 0 the fold model,
    :func:`tmvlib.uncertainty.ensemble.fit_fold_ensembles`), ``"ensemble"`` (S = M).

    Args:
        models: fold -> its model (eval mode).
        sets: fold -> role -> images (``image_id``), :func:`tmvlib.data.folds.role_sets`.
        bank: float32 frozen-stage outputs of the images ``bank_ids`` (one row each, any fold
            model's: they share their frozen stages).
    Raises:
        ValueError: the models do not share their frozen stages; KeyError: an image not in the bank.
    """
    every = list(models.values()) + [m.model for members in (ensembles or {}).values() for m in members]
    if not frozen_stages_shared(every):
        raise ValueError("the fold models do not share their frozen stages: one bank cannot serve them all")
    out: dict[int, dict[str, dict[str, np.ndarray]]] = {}
    for fold, model in models.items():
        out[fold] = {"baseline": {}, "MC dropout": {}}
        for role in roles:
            ids = sets[fold][role]["image_id"]
            rows = select_images(bank, bank_ids, sets[fold][role])  # any tensor indexed by image id
            features = bank_outputs(model, rows, "features")
            out[fold]["baseline"][role] = bank_outputs(model, rows).numpy()[None]
            out[fold]["MC dropout"][role] = mc_dropout_logits(model, features, ids.tolist(), mc_samples, seed).numpy()
            if ensembles is not None:
                out[fold].setdefault("ensemble", {})[role] = member_logits(list(ensembles[fold]), rows)
    return out
