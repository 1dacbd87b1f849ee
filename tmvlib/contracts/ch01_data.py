"""Chapter 01, data: the binary task and its patient-level splits (NIH + the external Kermany set)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .base import RUN_ID, SEED, param

CHAPTER = "01_data"


@dataclass(frozen=True)
class Params:
    """Parameters of chapter 01 (``params/default/01_data.yaml`` lists the same defaults)."""

    run_id: str = param("default", RUN_ID)
    data_root: str | None = param(None, "prepared data folder; None: TMV_DATA, then ../shared/data "
                                        "beside the checkout, then data/")
    positive: str = param("Pneumonia", "the finding to detect")
    negatives: Literal["no_finding", "all"] = param(
        "no_finding", '"no_finding": only No Finding images; "all": every other image')
    views: list[str] = param(["PA", "AP"], "view positions kept")
    min_source_width: int = param(1024, "only images made from full-quality 1024-px NIH files")
    split_fractions: dict[str, float] = param({"train": 0.7, "val": 0.15, "test": 0.15},
                                              "patient fractions of the train / val / test splits (split_source "
                                              "hash; official: the val share of train_val)")
    split_salt: str = param("tmv-v1", "another salt draws another split")
    split_source: Literal["folds", "hash", "official"] = param(
        "folds", '"folds": the roles of the deployed model, fold 0\'s (test = fold 0, val = fold 1, train = the '
                 'others); "hash": the salted patient hash draws train/val/test by split_fractions; "official": '
                 'the NIH release\'s test_list.txt is the test split, its train_val_list.txt is cut into train/val '
                 'by the hash (full profile)')
    localisation_set: bool = param(True, "patients with a radiologist box form a separate localisation set "
                                         "(chapters 04-05), outside train, validation and test")
    folds: int = param(5, "patient folds of cross-fitted evaluation (at least 3: test, calibration and "
                          "training folds), stratified by label; written as the splits' fold column")
    fold_salt: str = param("tmv-folds-v1", "another salt deals other folds")
    cross_fit: bool = param(True, "fit a model per fold and evaluate every folded patient once (cross-fitted "
                                  "evaluation); false: only the deployed model, its roles the split's own (needs "
                                  "split_source hash or official; the full profile)")
    on_bad_image: Literal["raise", "exclude"] = param(
        "raise", '"raise" or "exclude" (excluded files are counted in the chapter)')
    n_examples: int = param(4, "example images shown per class")
    seed: int = param(0, SEED)


READS_PARAMS: dict[str, tuple[str, ...]] = {}
READS_CHAPTERS: tuple[str, ...] = ()  # reads only the prepared data
