"""Training throughput on this machine: images per second for one optimisation step.

Measured, not assumed: bf16 autocast is fast only where the CPU computes bf16 natively, and
channels_last helps oneDNN convolutions; the chapter and ``make bench`` report every variant.
"""
from __future__ import annotations

import copy
import time

import pandas as pd
import torch
from torch import nn

from .classifier import XrayClassifier, gray_to_input
from .feature_cache import frozen_prefix, trainable_suffix
from .precision import autocast_factory
from .weights import WeightsInfo


def step_throughput(model: XrayClassifier, info: WeightsInfo, images: torch.Tensor,
                    precision: str = "fp32", channels_last: bool = False, cached: bool = False,
                    repeats: int = 2, warmup: int = 1) -> float:
    """Images/s of forward + backward + AdamW step on the uint8 batch ``images`` (B,1,H,W).

    ``cached`` times only the stages after the frozen ones, as training with the feature cache
    does (the frozen prefix is computed once, outside the timing). Works on a copy of ``model``.
    """
    model = copy.deepcopy(model).train()
    device = torch.device("cpu")
    autocast = autocast_factory(device, precision)
    x = gray_to_input(images, info)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    if cached:
        with torch.no_grad(), autocast():
            x = frozen_prefix(model, x)
    target = torch.zeros(len(images))
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-6)
    loss_fn = nn.BCEWithLogitsLoss()
    timings = []
    for i in range(warmup + repeats):
        start = time.perf_counter()
        with autocast():
            logits = trainable_suffix(model, x) if cached else model(x)
        loss = loss_fn(logits.float(), target)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if i >= warmup:
            timings.append(time.perf_counter() - start)
    return len(images) / (sum(timings) / len(timings))


def throughput_table(model_factory, images: torch.Tensor, frozen_stages: int,
                     precisions=("fp32", "bf16"), repeats: int = 2) -> pd.DataFrame:
    """Images/s for each precision x memory format x (full fine-tune | frozen + cached).

    ``model_factory(frozen_stages) -> (XrayClassifier, WeightsInfo)``.
    """
    rows = []
    for frozen in (0, frozen_stages):
        model, info = model_factory(frozen)
        for precision in precisions:
            for channels_last in (False, True):
                rate = step_throughput(model, info, images, precision, channels_last,
                                       cached=frozen > 0, repeats=repeats)
                rows.append({"trunk": "full fine-tune" if frozen == 0 else f"frozen {frozen} stages, cached",
                             "precision": precision,
                             "memory format": "channels_last" if channels_last else "contiguous",
                             "images/s": rate})
    table = pd.DataFrame(rows)
    baseline = table.loc[(table["trunk"] == "full fine-tune") & (table["precision"] == "fp32")
                         & (table["memory format"] == "contiguous"), "images/s"].iloc[0]
    table["speed-up vs fp32 full"] = table["images/s"] / baseline
    return table
