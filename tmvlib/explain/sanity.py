"""Cascading model-parameter randomisation (Adebayo et al. 2018, "Sanity Checks for Saliency
Maps", NeurIPS): re-initialise the network from the top down and watch the explanation change.

Order: the head (``fc``), then the trunk stages of ``model.spec.stages`` from the last (the 1x1
head conv + BN for EfficientNets) to the first (the stem); randomisation accumulates. Each
module inside a stage is re-initialised with its own ``reset_parameters()`` (PyTorch's default
initialisers for conv/linear; BatchNorm back to weight 1, bias 0, running mean 0, var 1), under
``torch.manual_seed(seed + step)`` inside ``torch.random.fork_rng`` (the caller's RNG is
untouched). A method that passes keeps little similarity to the trained model's map once the
layers it depends on are random; a map that survives randomisation reflects the input or the
architecture rather than what the model learned.
"""
from __future__ import annotations

import copy
import warnings
from collections.abc import Callable, Collection, Sequence

import numpy as np
import pandas as pd
import torch
from scipy.stats import spearmanr
from skimage.metrics import structural_similarity
from torch import nn

ExplainFn = Callable[[nn.Module, torch.Tensor], np.ndarray]


def randomize_(module: nn.Module) -> None:
    """Re-initialise, in place, every submodule of ``module`` that has ``reset_parameters``."""
    for sub in module.modules():
        reset = getattr(sub, "reset_parameters", None)
        if callable(reset):
            reset()


def randomization_steps(model: nn.Module) -> list[tuple[str, list[nn.Module]]]:
    """[(name, modules)] from the head down: ``fc``, then ``model.spec.stages`` reversed
    (module paths relative to ``model.trunk``; a stage's name joins its paths with '+')."""
    steps = [("fc", [model.fc])]
    for stage in reversed(model.spec.stages):
        steps.append(("+".join(stage), [model.trunk.get_submodule(p) for p in stage]))
    return steps


def resolve_sanity_steps(model: nn.Module, steps: Sequence[str] | str | None = None) -> list[str] | None:
    """The randomisation steps to evaluate: ``steps`` as given, ``None`` for every step when
    ``steps == "all"``, or the backbone's own choice (``model.spec.sanity_steps``) when ``steps``
    is None, so a chapter's params name no backbone's layers."""
    if steps == "all":
        return None
    if steps is None:
        return list(model.spec.sanity_steps) or None
    return list(steps)


def map_similarity(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(Spearman rank correlation over pixels, SSIM with data_range=1) of two (H, W) maps in
    [0, 1]. Spearman is NaN when either map is constant."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        rho = float("nan")
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rho = float(spearmanr(a.ravel(), b.ravel()).statistic)
    ssim = float(structural_similarity(a, b, data_range=1.0))
    return rho, ssim


def _single_map(heat) -> np.ndarray:
    heat = np.asarray(heat, dtype=np.float32)
    if heat.ndim == 3 and heat.shape[0] == 1:
        heat = heat[0]
    if heat.ndim != 2:
        raise ValueError(f"explain function must return one (H, W) map, got shape {heat.shape}")
    return heat


def cascading_randomization(model: nn.Module, x: torch.Tensor, explain: ExplainFn,
                            seed: int = 0, evaluate: Collection[str] | None = None) -> pd.DataFrame:
    """Run the cascade on a deep copy of ``model`` (the model itself is untouched).

    model: an ``XrayClassifier`` (needs ``fc``, ``trunk`` and ``spec.stages``); x: one input
    (3,H,W) or (1,3,H,W); explain: ``explain(model, x) -> (H, W)`` (or (1,H,W)) map in [0, 1],
    e.g. ``tmvlib.explain.gradcam``; evaluate: names of the steps (``randomization_steps``) after
    which to compute a map, None = every step (randomisation still cascades through all steps:
    a costly method can be checked at a few depths). Unknown names raise ValueError.
    Returns a DataFrame, one row per evaluated step (step 0 = the trained model against
    itself): ``step``, ``layer`` (randomised at this step), ``layers randomised`` (cumulative,
    top-down), ``spearman``, ``ssim`` (both against the trained model's map).
    """
    trained = _single_map(explain(model, x))
    work = copy.deepcopy(model).eval()
    rows = [{"step": 0, "layer": "none", "layers randomised": "none",
             **dict(zip(("spearman", "ssim"), map_similarity(trained, trained)))}]
    done: list[str] = []
    steps = randomization_steps(work)
    unknown = set(evaluate or ()) - {name for name, _ in steps}
    if unknown:
        raise ValueError(f"unknown randomisation steps {sorted(unknown)}; "
                         f"steps are {[name for name, _ in steps]}")
    for step, (name, modules) in enumerate(steps, start=1):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed + step)
            for module in modules:
                randomize_(module)
        done.append(name)
        if evaluate is not None and name not in evaluate:
            continue
        rho, ssim = map_similarity(trained, _single_map(explain(work, x)))
        rows.append({"step": step, "layer": name, "layers randomised": " > ".join(done),
                     "spearman": rho, "ssim": ssim})
    return pd.DataFrame(rows)
