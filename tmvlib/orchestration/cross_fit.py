"""Cross-fitted scoring: each fold model scores the images of its calibration and test roles,
shard by shard (here or on Ray), as chapter 02 scores the baseline."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd
from scipy.special import expit

from ..parallel import map_images
from ..stages import LogitsStage

__all__ = ["score_fold_roles", "score_shortcut_folds"]


def score_fold_roles(checkpoints: Mapping[int, Path], sets: Mapping[int, Mapping[str, pd.DataFrame]],
                     folder: Path, image_size: int, roles: Sequence[str] = ("calibration", "test"), *,
                     others: Mapping[str, pd.DataFrame] | None = None, shard_size: int = 256,
                     executor: str = "auto", engine: str = "auto") -> pd.DataFrame:
    """Float32 logits of every fold model on its ``roles``' images
    (:class:`~tmvlib.stages.LogitsStage` through :func:`~tmvlib.parallel.map_images`; shards in
    ``<folder>/logits-fold<f>-<role>``, resumed when identical).

    Args:
        checkpoints: fold -> its model's checkpoint.
        sets: fold -> role -> images (:func:`tmvlib.data.folds.role_sets`, with ``path``).
        others: name -> images outside the folds (the external set) that every fold model
            scores, their ``role`` the name.
    Returns:
        one row per (image, fold model): the role's rows with ``fold``, ``role``, ``logit``,
        ``prob`` and ``engine``, folds ascending, roles in ``roles`` order, then ``others``.
    """
    rows = []
    for fold in sorted(checkpoints):
        scorer = LogitsStage(str(checkpoints[fold]), image_size, engine=engine)
        for role, images in [(r, sets[fold][r]) for r in roles] + list((others or {}).items()):
            scored = map_images(scorer, images, Path(folder) / f"logits-fold{fold}-{role}", shard_size, executor)
            rows.append(images.assign(fold=fold, role=role, logit=scored["logit"].to_numpy(),
                                      engine=scored["engine"].to_numpy()))
    out = pd.concat(rows, ignore_index=True)
    return out.assign(prob=expit(out["logit"]))  # as chapter 02 computes the baseline's


def score_shortcut_folds(checkpoints: Mapping[str, Mapping[int, Path]], evaluation: Mapping[int, pd.DataFrame],
                         folder: Path, image_size: int, *, shard_size: int = 256, executor: str = "auto",
                         engine: str = "auto") -> dict[str, pd.DataFrame]:
    """The cross-fitted shortcut control's scores: every fold model of each negative rule scores
    its own fold's evaluation images (:func:`tmvlib.data.contrast.fold_evaluation_sets`) as role
    ``"test"`` (:func:`score_fold_roles`; shards under ``<folder>/shortcut-<rule>``).

    Args:
        checkpoints: negative rule -> fold -> that fold model's checkpoint.
        evaluation: fold -> its evaluation images (``path``).
    Returns:
        negative rule -> :func:`score_fold_roles`' rows.
    """
    return {rule: score_fold_roles(by_fold, {f: {"test": evaluation[f]} for f in by_fold},
                                   Path(folder) / f"shortcut-{rule}", image_size, roles=("test",),
                                   shard_size=shard_size, executor=executor, engine=engine)
            for rule, by_fold in checkpoints.items()}
