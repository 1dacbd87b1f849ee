"""Model- and data-randomisation sanity checks (Adebayo et al. 2018, "Sanity Checks for Saliency
Maps", NeurIPS): re-initialise the network and watch the explanation change.

Three tests, each comparing a randomised model's map with the trained model's map of the same
image (Spearman over pixels and SSIM, ``map_similarity``):

- **cascading** (``cascading_randomization``): randomise from the top down, cumulatively;
- **independent** (``independent_randomization``): randomise one stage at a time, every other
  stage keeping its trained weights (the first cascade step alone mostly tests the linear head,
  whose weights *are* Grad-CAM's channel weights for a pooled linear head);
- **data** (``data_randomization``): a model trained on permuted labels
  (``tmvlib.models.fit.fit_permuted_label_model``).

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


def target_stage(model: nn.Module) -> str:
    """The name of the last trunk stage (``model.spec.stages[-1]``), the one that computes the
    CAM target layer (e.g. ``conv_head+bn2`` for EfficientNet): Score-CAM's masks change when it
    alone is random."""
    return "+".join(model.spec.stages[-1])


def resolve_independent_steps(model: nn.Module, steps: Sequence[str] | str | None = None) -> list[str] | None:
    """The steps to randomise one at a time: ``steps`` as given, ``None`` (every step) for
    ``"all"``, or ``[target_stage(model)]`` for None."""
    if steps == "all":
        return None
    if steps is None:
        return [target_stage(model)]
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


def _maps(heat, n: int) -> np.ndarray:
    """An explain function's output as float32 (n, H, W) maps."""
    heat = np.asarray(heat, dtype=np.float32)
    if heat.ndim == 2:
        heat = heat[None]
    if heat.ndim != 3 or heat.shape[0] != n:
        raise ValueError(f"explain function must return {n} (H, W) maps, got shape {heat.shape}")
    return heat


def _batch(x: torch.Tensor) -> torch.Tensor:
    return x.unsqueeze(0) if x.ndim == 3 else x


def _compare(trained: np.ndarray, maps: np.ndarray, **labels) -> list[dict]:
    """One row per image: ``labels``, ``image`` (index in the batch), ``spearman``, ``ssim``."""
    return [{**labels, "image": i, **dict(zip(("spearman", "ssim"), map_similarity(a, b)))}
            for i, (a, b) in enumerate(zip(trained, maps))]


def cascading_randomization(model: nn.Module, x: torch.Tensor, explain: ExplainFn,
                            seed: int = 0, evaluate: Collection[str] | None = None,
                            reference: np.ndarray | None = None) -> pd.DataFrame:
    """Run the cascade on a deep copy of ``model`` (the model itself is untouched).

    model: an ``XrayClassifier`` (needs ``fc``, ``trunk`` and ``spec.stages``); x: inputs
    (N,3,H,W) (or one, (3,H,W)), all explained by each randomised model in one call (a method
    with a per-model set-up cost, e.g. Score-CAM's traced copy, pays it once per step); explain:
    ``explain(model, x) -> (N, H, W)`` maps in [0, 1] (or (H, W) for one image), e.g.
    ``tmvlib.explain.gradcam``; evaluate: names of the steps (``randomization_steps``) after
    which to compute maps, None = every step (randomisation still cascades through all steps:
    a costly method can be checked at a few depths). Unknown names raise ValueError.
    ``reference``: the trained model's maps (N,H,W) when already computed.
    Returns a DataFrame, one row per evaluated step and image (step 0 = the trained model
    against itself): ``step``, ``layer`` (randomised at this step), ``layers randomised``
    (cumulative, top-down), ``image`` (index in ``x``), ``spearman``, ``ssim`` (both against the
    trained model's map) and ``test`` = "cascading".
    """
    x = _batch(x)
    trained = _maps(explain(model, x) if reference is None else reference, len(x))
    work = copy.deepcopy(model).eval()
    rows = _compare(trained, trained, step=0, layer="none", **{"layers randomised": "none"})
    done: list[str] = []
    steps = randomization_steps(work)
    _check_steps(steps, evaluate)
    for step, (name, modules) in enumerate(steps, start=1):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed + step)
            for module in modules:
                randomize_(module)
        done.append(name)
        if evaluate is not None and name not in evaluate:
            continue
        rows += _compare(trained, _maps(explain(work, x), len(x)), step=step, layer=name,
                         **{"layers randomised": " > ".join(done)})
    return pd.DataFrame(rows).assign(test="cascading")


def _check_steps(steps: list[tuple[str, list[nn.Module]]], names: Collection[str] | None) -> None:
    unknown = set(names or ()) - {name for name, _ in steps}
    if unknown:
        raise ValueError(f"unknown randomisation steps {sorted(unknown)}; "
                         f"steps are {[name for name, _ in steps]}")


def independent_randomization(model: nn.Module, x: torch.Tensor, explain: ExplainFn,
                              seed: int = 0, evaluate: Collection[str] | None = None,
                              reference: np.ndarray | None = None) -> pd.DataFrame:
    """Randomise one step of ``randomization_steps`` at a time on a fresh copy of ``model``,
    every other layer trained (the same random weights as the cascade's step: seed + step).
    Arguments as :func:`cascading_randomization`; ``evaluate``: the steps to randomise (None =
    each). Returns rows ``step, layer, layers randomised`` (= ``layer``), ``image``,
    ``spearman, ssim`` and ``test`` = "independent" (no step-0 rows)."""
    x = _batch(x)
    trained = _maps(explain(model, x) if reference is None else reference, len(x))
    steps = randomization_steps(model)
    _check_steps(steps, evaluate)
    rows = []
    for step, (name, _) in enumerate(steps, start=1):
        if evaluate is not None and name not in evaluate:
            continue
        work = randomized_copy(model, name, seed)
        rows += _compare(trained, _maps(explain(work, x), len(x)), step=step, layer=name,
                         **{"layers randomised": name})
    return pd.DataFrame(rows).assign(test="independent")


def randomized_copy(model: nn.Module, step: str, seed: int = 0) -> nn.Module:
    """A deep copy of ``model`` (eval mode) with the one step ``step`` of
    ``randomization_steps`` re-initialised exactly as the cascade does it (seed + the step's
    position), every other layer trained: ``randomized_copy(model, "fc", seed).fc`` is the random
    head of the cascade's first step."""
    work = copy.deepcopy(model).eval()
    steps = randomization_steps(work)
    _check_steps(steps, [step])
    position = [name for name, _ in steps].index(step) + 1
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed + position)
        for module in dict(steps)[step]:
            randomize_(module)
    return work


def similarity_rows(trained: np.ndarray, maps: np.ndarray, test: str, step: int, layer: str,
                    layers_randomised: str) -> pd.DataFrame:
    """Rows of one randomisation step computed elsewhere (e.g. a randomised head scored by
    ``ScoreCAM(heads=...)``): trained and randomised maps (N,H,W) -> ``step, layer, layers
    randomised, image, spearman, ssim, test``, as the functions above return them."""
    rows = _compare(_maps(trained, len(trained)), _maps(maps, len(trained)), step=step, layer=layer,
                    **{"layers randomised": layers_randomised})
    return pd.DataFrame(rows).assign(test=test)


def data_randomization(model: nn.Module, permuted: nn.Module, x: torch.Tensor, explain: ExplainFn,
                       reference: np.ndarray | None = None) -> pd.DataFrame:
    """The maps of ``permuted`` (the same architecture trained on permuted labels) against the
    trained ``model``'s maps of ``x`` (N,3,H,W): one row per image, ``step`` = 1, ``layer`` =
    "labels permuted", ``image``, ``spearman, ssim``, ``test`` = "data"."""
    x = _batch(x)
    trained = _maps(explain(model, x) if reference is None else reference, len(x))
    rows = _compare(trained, _maps(explain(permuted, x), len(x)), step=1, layer="labels permuted",
                    **{"layers randomised": "all (retrained)"})
    return pd.DataFrame(rows).assign(test="data")
