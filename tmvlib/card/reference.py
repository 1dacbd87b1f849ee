"""What the training images look like, and the checks that tell an input is far from them.

Two kinds of check, both fitted on the run's own images:

- **file-level**: colour pictures, images smaller than the model input or of another shape than
  the training files, and a mean or spread of intensity outside the central 99% of the training
  images (all at the model's input size);
- **feature-level**: the cosine distance from the image's pooled CNN features to its k-th nearest
  training image (Sun et al., *Out-of-distribution detection with deep nearest neighbors*, ICML
  2022), flagged above the ``quantile`` of the same distance over the validation images, so that
  by construction about ``1 - quantile`` of in-distribution images are flagged. Chapter 08
  measures how often it fires on the NIH test set and on the Kermany population.

An "out of distribution" finding replaces the card's headline probability by a warning; a
"note" is shown but does not.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.neighbors import NearestNeighbors

from ..atomic import atomic_write, atomic_write_text
from ..data.tensors import intensity_stats
from ..formatting import bounds_text
from .inputs import COLOUR_SPREAD

OOD = "out of distribution"
NOTE = "note"
# The checks whose firing defers an image (ood_rules), in the order a card lists them.
OOD_CHECKS = ("colour", "intensity mean", "intensity spread", "feature distance", "aspect ratio", "size")


def fired_column(check: str) -> str:
    """The column of :func:`ood_flag_frame` that holds whether ``check`` fired (``"feature
    distance"`` itself is the distance)."""
    return f"fired: {check}"


FIRED_COLUMNS = {check: fired_column(check) for check in OOD_CHECKS}  # check -> its column


@dataclass
class InputCheck:
    """One check's outcome: ``value`` against the training range ``[low, high]``."""

    name: str
    value: float
    low: float
    high: float
    severity: str          # OOD or NOTE, when it fired
    fired: bool
    message: str


@dataclass
class InputReference:
    """Summary of a run's training images (see module doc).

    ``intensity_mean`` / ``intensity_std``: (low, high) quantiles of the per-image mean and
    standard deviation of [0, 1] intensities; ``aspect_range``: (min, max) width/height of the
    training files; ``min_side``: the smallest training file side; ``bank``: (N, F) float32
    L2-normalised training features; ``k``; ``distance_threshold``: the validation quantile of
    the k-NN distance; ``quantile``; ``val_distances`` (M,).
    """

    image_size: int
    intensity_mean: tuple[float, float]
    intensity_std: tuple[float, float]
    aspect_range: tuple[float, float]
    min_side: int
    bank: np.ndarray
    k: int
    quantile: float
    distance_threshold: float
    val_distances: np.ndarray

    def knn_distance(self, features) -> np.ndarray:
        """(N, F) features -> (N,) cosine distance to the k-th nearest training image."""
        return knn_distance(features, self.bank, self.k)

    def save(self, directory: str | Path) -> Path:
        """Write ``reference.npz`` (arrays) and ``reference.json`` (the rest) into ``directory``;
        returns the JSON's path. :meth:`load` reads them back."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        atomic_write(directory / "reference.npz", lambda tmp: np.savez_compressed(
            tmp, bank=self.bank.astype(np.float32), val_distances=self.val_distances.astype(np.float32)))
        meta = {k: v for k, v in asdict(self).items() if k not in ("bank", "val_distances")}
        atomic_write_text(directory / "reference.json", json.dumps(meta, indent=1))
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> InputReference:
        """The reference :meth:`save` wrote into ``directory``."""
        directory = Path(directory)
        meta = json.loads((directory / "reference.json").read_text())
        arrays = np.load(directory / "reference.npz")
        for key in ("intensity_mean", "intensity_std", "aspect_range"):
            meta[key] = tuple(meta[key])
        return cls(bank=arrays["bank"], val_distances=arrays["val_distances"], **meta)


def normalize_rows(features) -> np.ndarray:
    """(N, F) features scaled to unit L2 norm per row (float32), so a dot product is a cosine."""
    f = np.asarray(features, dtype=np.float32)
    return f / np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-12)


def knn_distance(features, bank: np.ndarray, k: int) -> np.ndarray:
    """Cosine distance (1 - cos) of each row of ``features`` (N, F) to its k-th nearest row of
    ``bank`` (already L2-normalised). Returns (N,) float64."""
    if k < 1 or k > len(bank):
        raise ValueError(f"k must be in 1..{len(bank)} (training images), got {k}")
    index = NearestNeighbors(n_neighbors=k, metric="cosine").fit(bank)
    distances, _ = index.kneighbors(normalize_rows(features))
    return distances[:, -1].astype(np.float64)


def fit_input_reference(train_grays, train_shapes, train_features, val_features, image_size: int,
                        k: int = 10, quantile: float = 0.95,
                        central: float = 0.99) -> InputReference:
    """Fit the reference on training images at the model size (``train_grays`` uint8
    (N, [1,] S, S)), their file shapes ``(h, w)`` as decoded, their pooled features (N, F) and
    the validation images' features (M, F)."""
    return fit_input_reference_from_stats(*intensity_stats(train_grays), train_shapes, train_features,
                                          val_features, image_size, k, quantile, central)


def fit_input_reference_from_stats(means, stds, train_shapes, train_features, val_features, image_size: int,
                                   k: int = 10, quantile: float = 0.95, central: float = 0.99) -> InputReference:
    """:func:`fit_input_reference` from the training images' per-image intensity ``means`` and
    ``stds`` (N,) (:func:`tmvlib.data.tensors.intensity_stats`, e.g. gathered shard by shard by
    :class:`tmvlib.stages.InputStatsStage`) instead of the images."""
    if not 0 < quantile < 1 or not 0 < central < 1:
        raise ValueError(f"quantile and central must lie in (0, 1), got {quantile}, {central}")
    means, stds = np.asarray(means), np.asarray(stds)
    tail = (1 - central) / 2
    shapes = np.asarray(train_shapes, dtype=np.float64)
    aspects = shapes[:, 1] / shapes[:, 0]
    bank = normalize_rows(train_features)
    val = knn_distance(val_features, bank, k)
    return InputReference(
        image_size=int(image_size),
        intensity_mean=tuple(float(v) for v in np.quantile(means, [tail, 1 - tail])),
        intensity_std=tuple(float(v) for v in np.quantile(stds, [tail, 1 - tail])),
        aspect_range=(float(aspects.min()), float(aspects.max())),
        min_side=int(shapes.min()), bank=bank, k=int(k), quantile=float(quantile),
        distance_threshold=float(np.quantile(val, quantile)), val_distances=val)


def _graded(name: str, value: float, low: float, high: float, far: bool, message: str) -> InputCheck:
    """A check that is a note just outside ``[low, high]`` and out of distribution when ``far``."""
    return InputCheck(name, value, low, high, OOD if far else NOTE, far or not low <= value <= high, message)


@dataclass(frozen=True)
class CheckLimits:
    """The limits of the file-level checks that are not fitted: a colour spread above ``colour``
    grey levels is a colour picture (out of distribution); an aspect ratio beyond
    ``aspect_tolerance`` times the training range, or a shorter side below the model input, is a
    note; beyond ``far_aspect`` times the range, or below the input size divided by
    ``far_size``, out of distribution."""

    colour: float = COLOUR_SPREAD
    aspect_tolerance: float = 1.1
    far_aspect: float = 1.5
    far_size: float = 2.0


def ood_rules(reference: InputReference, colour, mean, std, distance, aspect, side,
              limits: CheckLimits = CheckLimits()) -> dict[str, np.ndarray]:
    """Which out-of-distribution check fires, for one image or many (every argument a float or
    an (N,) array): ``{"colour", "intensity mean", "intensity spread", "feature distance",
    "aspect ratio", "size"}`` -> bool array; the one rule of the card (:func:`input_checks`) and
    of chapter 08's rates (:func:`ood_flag_frame`). The aspect ratio and the size count here
    only when far (their notes do not defer)."""
    colour, mean, std, distance, aspect, side = (np.asarray(v, dtype=np.float64)
                                                 for v in (colour, mean, std, distance, aspect, side))
    (m_low, m_high), (s_low, s_high), (a_low, a_high) = (reference.intensity_mean, reference.intensity_std,
                                                          reference.aspect_range)
    return {"colour": colour > limits.colour,
            "intensity mean": ~((m_low <= mean) & (mean <= m_high)),
            "intensity spread": ~((s_low <= std) & (std <= s_high)),
            "feature distance": distance > reference.distance_threshold,
            "aspect ratio": ~((a_low / limits.far_aspect <= aspect) & (aspect <= a_high * limits.far_aspect)),
            "size": side < reference.image_size / limits.far_size}


def ood_flag_frame(reference: InputReference, rows, features: np.ndarray,
                   limits: CheckLimits = CheckLimits()):
    """The card's out-of-distribution check on many images at once.

    Args:
        rows: ``tmvlib.stages.InputStatsStage`` rows (``intensity_mean, intensity_std, height,
            width, colour_spread``), one per image. features: (N, F) their pooled features.
    Returns:
        a DataFrame with the index of ``rows``: ``feature distance`` (the k-NN distance), one
        bool column ``fired: <check>`` per check of :func:`ood_rules` (:func:`fired_column`),
        and ``flagged`` (any of them: the card defers the image).
    """
    distance = reference.knn_distance(np.asarray(features))
    fired = ood_rules(reference, rows["colour_spread"], rows["intensity_mean"], rows["intensity_std"], distance,
                      rows["width"] / rows["height"], np.minimum(rows["width"], rows["height"]), limits)
    out = pd.DataFrame({"feature distance": distance, **{fired_column(k): v for k, v in fired.items()}},
                       index=rows.index)
    out["flagged"] = out[[fired_column(k) for k in fired]].any(axis=1)
    return out


def input_checks(radiograph, gray_at_size, features, reference: InputReference,
                 limits: CheckLimits = CheckLimits()) -> list[InputCheck]:
    """Every check for one image (``radiograph`` a :class:`~tmvlib.card.inputs.Radiograph`,
    ``gray_at_size`` uint8 (S, S), ``features`` (F,)). Returns all checks, fired or not.

    Out of distribution when :func:`ood_rules` fires (the rule chapter 08's rates use). Shape
    and size are graded: an aspect ratio beyond ``limits.aspect_tolerance`` times the training
    range, or a shorter side below the model input, is a note."""
    mean, std = (float(v[0]) for v in intensity_stats(np.asarray(gray_at_size)[None]))
    aspect = radiograph.width / radiograph.height
    a_low, a_high = reference.aspect_range
    distance = float(reference.knn_distance(np.asarray(features)[None])[0])
    m_low, m_high = reference.intensity_mean
    s_low, s_high = reference.intensity_std
    side = min(radiograph.width, radiograph.height)
    far = {name: bool(value) for name, value in
           ood_rules(reference, radiograph.colour_spread, mean, std, distance, aspect, side, limits).items()}
    return [
        InputCheck("colour", radiograph.colour_spread, 0.0, limits.colour, OOD, far["colour"],
                   f"a colour picture (channels differ by {radiograph.colour_spread:.0f} grey levels on "
                   "average); radiographs are grey"),
        InputCheck("intensity mean", mean, m_low, m_high, OOD, far["intensity mean"],
                   f"mean intensity {mean:.2f} is outside the central 99% of training images "
                   f"{bounds_text(m_low, m_high, digits=2)}"),
        InputCheck("intensity spread", std, s_low, s_high, OOD, far["intensity spread"],
                   f"intensity spread (std) {std:.2f} is outside the central 99% of training images "
                   f"{bounds_text(s_low, s_high, digits=2)}"),
        InputCheck("feature distance", distance, 0.0, reference.distance_threshold, OOD, far["feature distance"],
                   f"unlike the training images to the model: distance to the {reference.k}th nearest "
                   f"training image {distance:.3f} > {reference.distance_threshold:.3f} (exceeded by "
                   f"{1 - reference.quantile:.0%} of validation images)"),
        _graded("aspect ratio", aspect, a_low / limits.aspect_tolerance, a_high * limits.aspect_tolerance,
                far=far["aspect ratio"],
                message=f"width/height {aspect:.2f}, training files {a_low:.2f}-{a_high:.2f}: the image is "
                        "squeezed to a square, which distorts the anatomy"),
        _graded("size", side, float(reference.image_size), float("inf"), far=far["size"],
                message=f"shorter side {side} px is below the model input ({reference.image_size} px): "
                        "upsampled, fine detail is missing"),
    ]
