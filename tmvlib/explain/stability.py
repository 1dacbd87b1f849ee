"""Grad-CAM of one model family under perturbations, as the stability chapter needs them.

Three sources, each giving, per image, P maps in the *original* pixel frame, the pixels valid
for comparison and the perturbed model's probability (to count decision flips):

- ``mc_dropout``: T dropout masks on the head (``tmvlib.explain.mc_dropout_gradcam``; one
  forward per image, the T maps and logits in closed form);
- ``ensemble``: the deep-ensemble members other than the explained model (member 0);
- ``tta``: test-time augmentations (``tmvlib.explain.perturbations``), each map inverted to the
  original frame so that a map that moves with the anatomy counts as stable.

Maps are reduced to ``metric_size`` pixels (area averaging) before any comparison: CAMs here
are upsampled from a 7x7 grid, so 112 px keeps all their information and makes the per-pair
metrics four times cheaper. Valid masks are reduced with a min-pool (a cell is valid only if all
its pixels are).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..metrics.confidence import predicted_positive
from ..models.classifier import gray_to_input
from .base import chunks, layer_activations, to_heatmaps
from .geometry import tta_spread
from .gradcam import gradcam, mc_dropout_cams
from .perturbations import Perturbation, apply_perturbation, invert_heatmap, tta_perturbations_from_params

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class PerturbedMaps:
    """One source's maps for N images: ``maps`` (N,P,h,w) float32 in the original frame at the
    metric size, ``valid`` (P,h,w) bool or None (all valid), ``probs`` (N,P) probabilities of
    the perturbed predictions, ``names`` (P,) perturbation names."""

    maps: np.ndarray
    valid: np.ndarray | None
    probs: np.ndarray
    names: list[str]

    def by_name(self) -> dict[str, np.ndarray]:
        """perturbation name -> its (N,h,w) maps, in perturbation order."""
        return {name: self.maps[:, k] for k, name in enumerate(self.names)}


def reduce_maps(maps, size: int) -> np.ndarray:
    """(..., H, W) maps -> (..., size, size) by area averaging (float32)."""
    t = torch.as_tensor(np.asarray(maps, dtype=np.float32))
    lead = t.shape[:-2]
    if t.shape[-1] == size and t.shape[-2] == size:
        return t.numpy()
    out = F.interpolate(t.reshape(-1, 1, *t.shape[-2:]), size=(size, size), mode="area")
    return out.reshape(*lead, size, size).numpy()


def reduce_images(images, size: int) -> np.ndarray:
    """uint8 (N,1,H,W) radiographs -> uint8 (N, size, size), area-averaged and rounded (to show
    beside maps at the metric size)."""
    gray = torch.as_tensor(images)[:, 0].float().numpy()
    return reduce_maps(gray, size).round().astype(np.uint8)


def reduce_masks(masks, size: int) -> np.ndarray:
    """(..., H, W) bool -> (..., size, size) bool: a cell is valid only if all its pixels are."""
    t = torch.as_tensor(np.asarray(masks, dtype=np.float32))
    out = reduce_maps(t.numpy(), size)
    return out >= 1.0 - 1e-6


def mc_dropout_maps(model: nn.Module, images: torch.Tensor, norm, samples: int, seed: int,
                    metric_size: int, image_ids: Sequence[str], batch_size: int = 16) -> PerturbedMaps:
    """Grad-CAM under ``samples`` MC-dropout masks for uint8 ``images`` (N,1,H,W): each image's
    own masks, keyed by ``seed`` and its id (:mod:`tmvlib.models.dropout_masks`), the masks of
    chapter 03's MC-dropout predictions and of the card."""
    if len(image_ids) != len(images):
        raise ValueError(f"{len(image_ids)} image ids for {len(images)} images")
    ids = list(image_ids)
    out_maps, out_probs = [], []
    for sl in chunks(len(images), batch_size):
        x = gray_to_input(images[sl], norm)
        _, acts = layer_activations(model, x)
        cams, logits = mc_dropout_cams(model, acts, samples, seed, ids[sl])
        maps = to_heatmaps(cams, tuple(x.shape[-2:]))  # as mc_dropout_gradcam: upsample, [0, 1]
        out_maps.append(reduce_maps(maps, metric_size))
        out_probs.append(torch.sigmoid(logits).numpy())
    return PerturbedMaps(np.concatenate(out_maps), None, np.concatenate(out_probs),
                         [f"mc{t:02d}" for t in range(samples)])


def ensemble_maps(members: Sequence[nn.Module], images: torch.Tensor, norm, metric_size: int,
                  batch_size: int = 16, explain: Callable = gradcam) -> PerturbedMaps:
    """Grad-CAM of each model in ``members`` (pass the ensemble without the explained model)."""
    maps = np.empty((len(images), len(members), metric_size, metric_size), np.float32)
    probs = np.empty((len(images), len(members)), np.float32)
    for m, member in enumerate(members):
        for sl in chunks(len(images), batch_size):
            x = gray_to_input(images[sl], norm)
            maps[sl, m] = reduce_maps(explain(member, x), metric_size)
            with torch.inference_mode():
                probs[sl, m] = torch.sigmoid(member.eval()(x)).numpy()
    return PerturbedMaps(maps, None, probs, [f"member{m + 1}" for m in range(len(members))])


def perturbed_input(images: torch.Tensor, perturbation: Perturbation, norm) -> torch.Tensor:
    """The model input of uint8 images (B,1,H,W) under ``perturbation``: applied on [0, 1]
    intensities, re-quantised to 8 bits, then normalised as every input is (``gray_to_input``)."""
    moved = apply_perturbation(images, perturbation)  # float [0, 1]
    return gray_to_input((moved * 255.0).round().clamp(0, 255).to(torch.uint8), norm)


@torch.inference_mode()
def perturbed_probabilities(model: nn.Module, images: torch.Tensor, norm, perturbations: Sequence[Perturbation],
                            batch_size: int = 16) -> np.ndarray:
    """(N, P) float32 P(positive) of each image under each perturbation, forward passes only (no
    map): the prediction's own sensitivity, e.g. to one factor at a time
    (``tmvlib.explain.perturbations.single_factor_perturbations``). ``images`` uint8 (N,1,H,W)."""
    model = model.eval()
    probs = np.empty((len(images), len(perturbations)), np.float32)
    for k, pert in enumerate(perturbations):
        for sl in chunks(len(images), batch_size):
            probs[sl, k] = torch.sigmoid(model(perturbed_input(images[sl], pert, norm))).float().numpy()
    return probs


def tta_maps(model: nn.Module, images: torch.Tensor, norm, perturbations: Sequence[Perturbation],
             metric_size: int, batch_size: int = 16, explain: Callable = gradcam) -> PerturbedMaps:
    """Grad-CAM of each perturbed image, inverted to the original frame. ``images`` uint8
    (N,1,H,W); the perturbation acts on [0, 1] intensities before normalisation."""
    maps = np.empty((len(images), len(perturbations), metric_size, metric_size), np.float32)
    probs = np.empty((len(images), len(perturbations)), np.float32)
    valid = np.ones((len(perturbations), metric_size, metric_size), bool)
    for k, pert in enumerate(perturbations):
        for sl in chunks(len(images), batch_size):
            x = perturbed_input(images[sl], pert, norm)
            raw = explain(model, x)
            back, mask = invert_heatmap(raw, pert)
            maps[sl, k] = reduce_maps(back, metric_size)
            valid[k] = reduce_masks(mask, metric_size)
            with torch.inference_mode():
                probs[sl, k] = torch.sigmoid(model.eval()(x)).numpy()
    return PerturbedMaps(maps, valid, probs, [p.name for p in perturbations])


def stability_against_reference(reference: np.ndarray, perturbed: PerturbedMaps,
                                reference_probs: np.ndarray, threshold: float,
                                image_ids: Sequence[str], k: float = 0.15,
                                grid: tuple[int, int] | None = None) -> "pd.DataFrame":
    """Per image and perturbation: ``tmvlib.explain.similarity.stability_rows`` of each perturbed
    map against the image's reference map (N,h,w) (same metric size), with ``label_flipped``
    = the perturbed prediction's label at ``threshold`` differs from the reference's. Returns
    the rows with an ``image_id`` column."""
    import pandas as pd

    from .similarity import stability_rows

    if reference.shape[0] != perturbed.maps.shape[0] or reference.shape[1:] != perturbed.maps.shape[2:]:
        raise ValueError(f"reference maps {reference.shape} do not match perturbed maps "
                         f"{perturbed.maps.shape}")
    ref_label = predicted_positive(reference_probs, threshold)
    frames = []
    for i, image_id in enumerate(image_ids):
        flipped = predicted_positive(perturbed.probs[i], threshold) != ref_label[i]
        rows = stability_rows(reference[i], perturbed.maps[i], perturbed.valid, flipped, k=k,
                              grid=grid, names=perturbed.names)
        frames.append(rows.assign(image_id=image_id))
    return pd.concat(frames, ignore_index=True)


#: the perturbation sources of chapter 06, in the order of its rows
SOURCES = ("MC dropout", "ensemble", "TTA")


@dataclass
class SourceStability:
    """Chapter 06's protocol on N images: ``maps`` (N,H,W) Grad-CAM of the unperturbed images
    at input size, ``reference`` the same at the metric size, ``sources`` name -> PerturbedMaps
    (``MC dropout``, ``ensemble``, ``TTA``), ``rows`` the per-perturbation stability rows
    (``tmvlib.explain.similarity.stability_rows`` with ``image_id`` and ``source``)."""

    maps: np.ndarray
    reference: np.ndarray
    sources: dict[str, PerturbedMaps]
    rows: "pd.DataFrame"


@dataclass(frozen=True)
class StabilityProtocol:
    """How chapter 06 measures an explanation's stability, the parameters that travel together
    through every function and stage that measures it (chapters 06, 07, 09 and the card).

    Attributes:
        perturbations: the test-time perturbations (:func:`~tmvlib.explain.perturbations.tta_perturbations_from_params`).
        metric_size: maps are compared at ``metric_size`` x ``metric_size`` px (:func:`reduce_maps`).
        top_k: the share of pixels in the top-k overlap. grid: Spearman on ``grid`` cells.
        mc_samples: MC-dropout masks per image, drawn with ``seed`` (:mod:`tmvlib.models.dropout_masks`).
        batch_size: images per Grad-CAM batch.
    """

    perturbations: tuple[Perturbation, ...]
    metric_size: int
    top_k: float
    grid: tuple[int, int]
    mc_samples: int = 0
    seed: int = 0
    batch_size: int = 16

    def __post_init__(self):
        object.__setattr__(self, "perturbations", tuple(self.perturbations))
        object.__setattr__(self, "grid", tuple(int(g) for g in self.grid))

    def first_perturbations(self, n: int) -> StabilityProtocol:
        """The protocol with only its first ``n`` test-time perturbations (a costly method on fewer)."""
        return replace(self, perturbations=self.perturbations[:n])


def stability_protocol_from_params(params: Mapping, batch_size: int | None = None) -> StabilityProtocol:
    """Chapter 06's protocol from its params (its notebook parameters, or what it recorded):
    the TTA perturbations, ``metric_size``, ``top_k``, ``spearman_grid`` (square), ``mc_samples``,
    ``seed`` and ``batch_size`` (unless given)."""
    return StabilityProtocol(tta_perturbations_from_params(params), int(params["metric_size"]),
                             float(params["top_k"]), (int(params["spearman_grid"]),) * 2,
                             int(params["mc_samples"]), int(params["seed"]),
                             int(batch_size if batch_size is not None else params["batch_size"]))


def check_sources(sources: Sequence[str]) -> tuple[str, ...]:
    """``sources`` in the order of :data:`SOURCES`, as a tuple.

    Raises:
        ValueError: ``sources`` is empty or names a source not in :data:`SOURCES`.
    """
    unknown = [s for s in sources if s not in SOURCES]
    if unknown or not len(sources):
        raise ValueError(f"stability sources must be some of {list(SOURCES)}, got {list(sources)}")
    return tuple(s for s in SOURCES if s in sources)


def stability_by_source(model: nn.Module, others: Sequence[nn.Module], images: torch.Tensor, norm,
                        probs: np.ndarray, threshold: float, image_ids: Sequence[str],
                        protocol: StabilityProtocol, sources: Sequence[str] = SOURCES) -> SourceStability:
    """Grad-CAM of ``model`` on uint8 ``images`` (N,1,H,W) and its stability under MC dropout,
    the other ensemble members ``others`` and the test-time perturbations of ``protocol``, each
    compared with the unperturbed map (``probs`` (N,): the unperturbed probabilities, for label
    flips at ``threshold``). The stability chapter and the trust card both call this.

    ``sources`` (:func:`check_sources`) limits the work to some of them: each source is computed
    alone, so a source's rows and probabilities are the same whichever others run beside it."""
    import pandas as pd

    from .run import explain_images

    p, wanted = protocol, check_sources(sources)
    maps, _ = explain_images(lambda x: gradcam(model, x), images, norm, p.batch_size, progress=False)
    reference = reduce_maps(maps, p.metric_size)
    mc, ensemble, tta = SOURCES
    makers = {mc: lambda: mc_dropout_maps(model, images, norm, p.mc_samples, p.seed, p.metric_size, image_ids,
                                          p.batch_size),
              ensemble: lambda: ensemble_maps(others, images, norm, p.metric_size, p.batch_size),
              tta: lambda: tta_maps(model, images, norm, p.perturbations, p.metric_size, p.batch_size)}
    sources = {name: makers[name]() for name in wanted}
    rows = pd.concat([stability_against_reference(reference, perturbed, probs, threshold, image_ids,
                                                  k=p.top_k, grid=p.grid).assign(source=name)
                      for name, perturbed in sources.items()], ignore_index=True)
    return SourceStability(maps, reference, sources, rows)



def tta_stability(model: nn.Module, images: torch.Tensor, norm, probs: np.ndarray, threshold: float,
                  image_ids: Sequence[str], protocol: StabilityProtocol) -> "pd.DataFrame":
    """Chapter 06's TTA source alone (no MC dropout, no ensemble): the Grad-CAM of each uint8
    image (N,1,H,W) against its Grad-CAMs under the protocol's perturbations, as
    :func:`tmvlib.explain.similarity.stability_summary` rows by ``image_id`` (``instability`` =
    1 - mean Spearman, NaN for a constant map; ``flip_rate`` at ``threshold`` from the
    unperturbed ``probs`` (N,)). The replication chapter runs it for every replicate."""
    from .run import explain_images
    from .similarity import stability_summary

    p = protocol
    maps, _ = explain_images(lambda x: gradcam(model, x), images, norm, p.batch_size, progress=False)
    perturbed = tta_maps(model, images, norm, p.perturbations, p.metric_size, p.batch_size)
    rows = stability_against_reference(reduce_maps(maps, p.metric_size), perturbed, probs, threshold, image_ids,
                                       k=p.top_k, grid=p.grid)
    return stability_summary(rows, by=["image_id"])


@dataclass
class StabilityBySet:
    """:func:`stability_by_source` of several image sets (run over shards by
    :func:`tmvlib.tables.stability.stability_by_set_on_shards`), keeping what chapter 06 reads on:
    ``rows`` (every set's stability rows with a ``set`` column), ``reference`` set -> (N,h,w)
    unperturbed Grad-CAM at the metric size, ``probs`` set -> source -> (N,P) probabilities of
    the perturbed predictions. The perturbed maps themselves are dropped (they are large)."""

    rows: "pd.DataFrame"
    reference: dict[str, np.ndarray]
    probs: dict[str, dict[str, np.ndarray]]

    def of_sources(self, sources: Sequence[str]) -> StabilityBySet:
        """The same run restricted to ``sources`` (rows and probabilities of those only): what a
        run of those sources alone gives, since each source is computed alone."""
        wanted = check_sources(sources)
        missing = [s for s in wanted if not any(s in by_source for by_source in self.probs.values())]
        if missing:
            raise ValueError(f"this stability run did not measure {missing}")
        if set(self.rows["source"]) <= set(wanted):
            return self  # nothing to leave out
        return StabilityBySet(self.rows[self.rows["source"].isin(wanted)].reset_index(drop=True), self.reference,
                              {name: {s: p for s, p in by_source.items() if s in wanted}
                               for name, by_source in self.probs.items()})


SCORECAM_TOPK = "Score-CAM (top-k)"


def method_tta_stability(model: nn.Module, images: torch.Tensor, norm, gradcam_reference: np.ndarray,
                         probs: np.ndarray, threshold: float, image_ids: Sequence[str],
                         protocol: StabilityProtocol, *, scorecam_top_k: int, engine: str = "auto") -> "pd.DataFrame":
    """Score-CAM (the fast top-k path) and Grad-CAM under the same test-time perturbations (the
    protocol's), for a few images (Score-CAM costs seconds per image).

    Args:
        images: uint8 (N,1,H,W). gradcam_reference: (N,h,w) unperturbed Grad-CAM at
            ``metric_size`` (chapter 06 has it already: ``StabilityBySet.reference``).
        probs: (N,) unperturbed probabilities (label flips at ``threshold``).
        scorecam_top_k: channels scored by :class:`tmvlib.explain.scorecam.ScoreCAM` (the rest
            get the mean weight); its reference map is computed here, one image at a time.
        engine: Score-CAM's forward engine (``tmvlib.models.engine``).
    Returns:
        :func:`stability_against_reference` rows of Score-CAM (``method = "Score-CAM
        (top-k)"``) then of Grad-CAM (``method = "Grad-CAM"``), each keeping its own index.
    """
    import pandas as pd

    from .run import explain_images
    from .scorecam import ScoreCAM

    p = protocol
    cam = ScoreCAM(model, top_k=scorecam_top_k, batch_size=8, engine=engine)
    scorecam_reference, _ = explain_images(cam, images, norm, batch_size=1)
    scorecam_tta = tta_maps(model, images, norm, p.perturbations, p.metric_size, 1,
                            explain=lambda _model, x: cam(x))
    gradcam_tta = tta_maps(model, images, norm, p.perturbations, p.metric_size, 1)
    return pd.concat([
        stability_against_reference(reduce_maps(scorecam_reference, p.metric_size), scorecam_tta, probs,
                                    threshold, image_ids, k=p.top_k, grid=p.grid).assign(method=SCORECAM_TOPK),
        stability_against_reference(gradcam_reference, gradcam_tta, probs, threshold, image_ids,
                                    k=p.top_k, grid=p.grid).assign(method="Grad-CAM")])


def tta_spread_maps(perturbed: PerturbedMaps) -> np.ndarray:
    """(N,h,w) float32 pixelwise spread of each image's maps over the perturbations
    (:func:`tmvlib.explain.geometry.tta_spread` with the valid pixels); (0,h,w) for no image."""
    if not len(perturbed.maps):
        return np.zeros((0, *perturbed.maps.shape[-2:]))
    return np.stack([tta_spread(perturbed.maps[k], perturbed.valid) for k in range(len(perturbed.maps))])
