"""Fine-tuning loop: AdamW, one-cycle schedule (15% warm-up, then cosine decay), class weighting, early stopping on validation AUROC.

Inputs are uint8 image tensors ``(N, 1, H, W)`` (see :func:`tmvlib.data.tensors.load_image_tensor`)
and 0/1 label arrays. With frozen stages and ``cache_features``, the frozen part runs once per
(augmented) image and every epoch trains only the stages after it.
"""
from __future__ import annotations

import copy
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace

import numpy as np
import pandas as pd
import torch
from torch import nn
from torchvision.transforms import v2

from ..metrics.discrimination import auroc
from ..progress import progress_bar
from ..runtime import tune_cpu_allocator
from .augment import augment_batch, xray_augmentation
from .classifier import XrayClassifier, gray_to_input
from .feature_cache import allocate_bank, cache_frozen_features, trainable_suffix
from .training_data import TrainingData
from .precision import EVALUATION_PRECISION, autocast_factory, resolve_device, resolve_precision
from .weights import WeightsInfo


@dataclass
class TrainConfig:
    """Everything that changes the trained weights (it is hashed into the checkpoint record)."""

    epochs: int = 8
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-4
    patience: int = 3
    seed: int = 0
    pos_weight: str | float | None = "balanced"  # "balanced" = negatives / positives
    augment: bool = True
    augment_copies: int = 2          # augmented views cached per image when features are cached
    cache_features: bool = True
    precision: str = "auto"          # auto | fp32 | bf16
    channels_last: bool = True
    device: str = "auto"
    cache_seed: int | None = None    # seed of the cached augmented views (None: ``seed``);
                                     # ensemble members share one set of views

    def to_dict(self) -> dict:
        """The config as a plain dict (stored in checkpoints, hashed to match them)."""
        return asdict(self)


@dataclass
class TrainResult:
    """What :func:`train_classifier` returns besides the trained model: the history, the best
    epoch and its validation AUROC, the precision and device used, and the wall time."""

    history: pd.DataFrame            # one row per epoch
    best_epoch: int
    best_val_auroc: float
    precision: str                   # what ``auto`` resolved to
    device: str
    seconds: float


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch, and ask torch for deterministic kernels."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)


def _pos_weight(labels: np.ndarray, rule: str | float | None) -> torch.Tensor | None:
    if rule is None:
        return None
    if rule == "balanced":
        positives = int(labels.sum())
        if positives == 0 or positives == len(labels):
            raise ValueError("the training split holds a single class; cannot weight classes")
        return torch.tensor((len(labels) - positives) / positives, dtype=torch.float32)
    return torch.tensor(float(rule), dtype=torch.float32)


class _Inputs:
    """uint8 batches -> normalised (B,3,H,W) on the device, channels_last when asked."""

    def __init__(self, info: WeightsInfo, device: torch.device, channels_last: bool):
        self.info, self.device = info, device
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        return gray_to_input(images, self.info).to(self.device).contiguous(memory_format=self.memory_format)


@torch.no_grad()
def predict_logits(model: XrayClassifier, info: WeightsInfo, images: torch.Tensor,
                   batch_size: int = 64, precision: str = EVALUATION_PRECISION, device: str = "auto",
                   channels_last: bool = True, progress: bool = True, desc: str = "predicting") -> np.ndarray:
    """Logits ``(N,)`` of ``model`` (in eval mode: dropout off) for uint8 images ``(N,1,H,W)``,
    in float32 unless ``precision`` says otherwise (:data:`~tmvlib.models.precision.EVALUATION_PRECISION`)."""
    tune_cpu_allocator()
    dev = resolve_device(device)
    autocast = autocast_factory(dev, resolve_precision(precision, dev))
    to_input = _Inputs(info, dev, channels_last)
    _place(model.eval(), dev, channels_last)
    out = []
    for start in progress_bar(range(0, len(images), batch_size), progress, desc=desc, leave=False):
        with autocast():
            out.append(model(to_input(images[start:start + batch_size])).float().cpu())
    return torch.cat(out).numpy()


def _place(model: XrayClassifier, device: torch.device, channels_last: bool) -> None:
    model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)


def _runtime(info: WeightsInfo, config: TrainConfig):
    device = resolve_device(config.device)
    precision = resolve_precision(config.precision, device)
    return device, precision, autocast_factory(device, precision), _Inputs(info, device, config.channels_last)


def frozen_bank(model: XrayClassifier, info: WeightsInfo, images: torch.Tensor, config: TrainConfig,
                progress: bool = True, desc: str = "caching frozen features",
                out: torch.Tensor | None = None,
                augment: Callable[[torch.Tensor], torch.Tensor] | None = None) -> torch.Tensor:
    """Frozen-stage outputs of uint8 ``images`` (N,1,H,W), computed once: every model that shares
    these frozen stages (a last-blocks ensemble on one pretrained trunk) reuses them. In memory,
    or on disk beyond ``TMV_CACHE_RAM_GB`` (:func:`tmvlib.models.feature_cache.allocate_bank`);
    written into ``out`` when given. ``augment``: uint8 chunk -> augmented uint8 chunk, applied
    chunk by chunk in image order (no full augmented copy is made)."""
    tune_cpu_allocator()
    device, _, autocast, to_input = _runtime(info, config)
    _place(model, device, config.channels_last)
    if augment is not None:
        plain = to_input

        def to_input(chunk: torch.Tensor) -> torch.Tensor:
            return plain(augment(chunk))
    return cache_frozen_features(model, images, to_input, autocast=autocast, progress=progress, desc=desc,
                                 out=out)


def evaluation_bank(model: XrayClassifier, info: WeightsInfo, images: torch.Tensor, config: TrainConfig,
                    progress: bool = True, desc: str = "caching frozen features") -> torch.Tensor:
    """:func:`frozen_bank` of images the model is *evaluated* on: float32 whatever precision
    ``config`` trained in (:data:`~tmvlib.models.precision.EVALUATION_PRECISION`), so that
    :func:`~tmvlib.models.feature_cache.bank_outputs` of it equals the model's float32 forward
    (:func:`predict_logits`, :class:`tmvlib.stages.LogitsStage`) to float32 rounding."""
    return frozen_bank(model, info, images, replace(config, precision=EVALUATION_PRECISION), progress, desc)


def build_train_cache(model: XrayClassifier, info: WeightsInfo, train_images: torch.Tensor,
                      config: TrainConfig, progress: bool = True) -> torch.Tensor:
    """Frozen-stage outputs of the training images and their augmented copies: ``(V, N, ...)``
    with V = 1 + augment_copies (the first view unaugmented). Seeded by ``config.cache_seed``,
    else ``config.seed``. Images are augmented chunk by chunk as they are cached, drawing from
    their own random stream (the frozen forward itself draws from torch's global generator), so
    the views are those of augmenting every copy right after seeding; the cache is allocated by
    :func:`tmvlib.models.feature_cache.allocate_bank` (on disk when large)."""
    seed_everything(config.seed if config.cache_seed is None else config.cache_seed)
    n_views = 1 + (config.augment_copies if config.augment else 0)
    augment = _AugmentStream(xray_augmentation()) if config.augment else None
    first = frozen_bank(model, info, train_images, config, progress, f"caching frozen features 1/{n_views}")
    cache = allocate_bank((n_views, *first.shape), first.dtype, first)
    cache[0] = first
    del first
    for v in range(1, n_views):
        frozen_bank(model, info, train_images, config, progress, f"caching frozen features {v + 1}/{n_views}",
                    out=cache[v], augment=augment)
    return cache


class _AugmentStream:
    """``augment_batch`` with ``transform`` on torch's global generator as it was when this was
    built, continued call after call and set aside in between (other work may draw from it)."""

    def __init__(self, transform: v2.Compose):
        self.transform, self.state = transform, torch.get_rng_state()

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        outer = torch.get_rng_state()
        torch.set_rng_state(self.state)
        try:
            return augment_batch(images, self.transform)
        finally:
            self.state = torch.get_rng_state()
            torch.set_rng_state(outer)


def train_classifier(model: XrayClassifier, info: WeightsInfo, data: TrainingData, config: TrainConfig, *,
                     progress: bool = True, train_cache: torch.Tensor | None = None,
                     val_cache: torch.Tensor | None = None) -> TrainResult:
    """Fine-tune ``model`` in place on ``data`` (uint8 training and validation images with
    labels); on return it holds the weights of the best validation epoch.

    Same config, same data and the same initial weights give the same result on CPU; the head's
    initial weights come from the RNG when the model is built, so seed before building it
    (:func:`tmvlib.models.fit.fit_or_load` does).

    Raises:
        FloatingPointError: the loss became NaN or infinite (names epoch and batch); training
            never continues on a non-finite loss.
        ValueError: a split holds a single class.

    ``train_cache`` / ``val_cache`` (from :func:`build_train_cache` / :func:`frozen_bank`) may be
    passed in when several models share the frozen stages; results equal computing them here.
    """
    train_images, train_labels, val_images, val_labels = (data.train_images, data.train_labels, data.val_images,
                                                          data.val_labels)
    if len(np.unique(val_labels)) < 2:
        raise ValueError("the validation split holds a single class; AUROC is undefined")
    seed_everything(config.seed)
    tune_cpu_allocator()
    device, precision, autocast, to_input = _runtime(info, config)
    _place(model, device, config.channels_last)
    transform = xray_augmentation() if config.augment else None
    generator = torch.Generator().manual_seed(config.seed)
    labels = torch.tensor(np.asarray(train_labels), dtype=torch.float32)
    pos_weight = _pos_weight(np.asarray(train_labels), config.pos_weight)
    loss_fn = nn.BCEWithLogitsLoss(pos_weight=None if pos_weight is None else pos_weight.to(device))
    val_loss_fn = nn.BCEWithLogitsLoss(pos_weight=pos_weight)  # val logits come back on the CPU

    cached = config.cache_features and model.frozen_stages > 0
    if cached and train_cache is None:
        train_cache = build_train_cache(model, info, train_images, config, progress)
    if cached and val_cache is None and val_images is train_images:
        val_cache = train_cache[0]  # the unaugmented view of the same images: the same features
    if cached and val_cache is None:
        val_cache = frozen_bank(model, info, val_images, config, progress, "caching validation features")
    # Dropout masks, view picks and data order draw from here on, whichever way the caches came.
    torch.manual_seed(config.seed + 1)

    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    steps_per_epoch = -(-len(train_images) // config.batch_size)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr, pct_start=0.15,
                                                    total_steps=config.epochs * steps_per_epoch)

    def val_logits() -> torch.Tensor:
        model.eval()
        out = []
        with torch.no_grad():
            for start in range(0, len(val_images), 64):
                with autocast():
                    if cached:
                        out.append(trainable_suffix(model, val_cache[start:start + 64].to(device)).float())
                    else:
                        out.append(model(to_input(val_images[start:start + 64])).float())
        return torch.cat(out).cpu()

    rows, best_state, best_auroc, best_epoch, waited = [], None, -1.0, 0, 0
    started = time.perf_counter()
    for epoch in range(1, config.epochs + 1):
        model.train()
        epoch_start, total_loss = time.perf_counter(), 0.0
        order = torch.randperm(len(train_images), generator=generator)
        batches = range(0, len(order), config.batch_size)
        bar = progress_bar(batches, progress, desc=f"epoch {epoch}/{config.epochs}", leave=False)
        for batch_number, start in enumerate(bar):
            index = order[start:start + config.batch_size]
            target = labels[index].to(device)
            with autocast():
                if cached:
                    view = torch.randint(0, len(train_cache), (len(index),), generator=generator)
                    logits = trainable_suffix(model, train_cache[view, index].to(device))
                else:
                    batch = train_images[index]
                    if transform is not None:
                        batch = augment_batch(batch, transform)
                    logits = model(to_input(batch))
            loss = loss_fn(logits.float(), target)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"non-finite training loss ({loss.item()}) at epoch {epoch}, "
                                         f"batch {batch_number}; lr={scheduler.get_last_lr()[0]:.2e}. "
                                         "Lower the learning rate or check the inputs.")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            total_loss += loss.item() * len(index)
        seconds = time.perf_counter() - epoch_start
        logits = val_logits()
        val_loss = val_loss_fn(logits, torch.tensor(np.asarray(val_labels), dtype=torch.float32)).item()
        val_auroc = auroc(np.asarray(val_labels), logits.numpy())
        rows.append({"epoch": epoch, "train_loss": total_loss / len(order), "val_loss": val_loss,
                     "val_auroc": val_auroc, "lr": scheduler.get_last_lr()[0], "seconds": seconds,
                     "images_per_s": len(order) / seconds})
        if val_auroc > best_auroc:
            best_auroc, best_epoch, waited = val_auroc, epoch, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            waited += 1
            if waited >= config.patience:
                break
    model.load_state_dict(best_state)
    model.eval()
    return TrainResult(pd.DataFrame(rows), best_epoch, best_auroc, precision, str(device),
                       time.perf_counter() - started)
