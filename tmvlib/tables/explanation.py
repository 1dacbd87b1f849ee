"""Tables that measure explanations: localisation against radiologist boxes, where the heat goes,
agreement between methods and the cascading-randomisation sanity check.

Inputs are heatmaps (N,H,W) in [0, 1] (see ``tmvlib.explain``) with their image ids; outputs are
DataFrames with one row per image (``*_rows``) or one row per method and quantity with a
patient-bootstrap 95% interval (``*_table``: ``value, low, high, images``).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import torch
from scipy.stats import spearmanr

from ..explain.localization import binarize, box_mask, energy_inside, iou_thresholded, pointing_game
from ..explain.regions import REGIONS, energy_by_region, peak_region
from ..explain.sanity import cascading_randomization
from ..metrics.bootstrap import patient_bootstrap_mean

Box = tuple[float, float, float, float]


def boxes_by_image(boxes: pd.DataFrame, findings: Sequence[str] | None = None) -> dict[str, list[Box]]:
    """Radiologist boxes (``image_id, finding, x, y, w, h``, as ``tmvlib.data.read_nih_boxes``
    returns them, in heatmap pixels) grouped by image; ``findings`` keeps only those findings
    (None keeps all)."""
    missing = {"image_id", "finding", "x", "y", "w", "h"} - set(boxes.columns)
    if missing:
        raise ValueError(f"box table lacks columns {sorted(missing)}")
    kept = boxes if findings is None else boxes[boxes["finding"].isin(list(findings))]
    out: dict[str, list[Box]] = {}
    for row in kept.itertuples(index=False):
        out.setdefault(row.image_id, []).append((row.x, row.y, row.w, row.h))
    return out


def localization_rows(maps: np.ndarray, image_ids: Sequence[str], boxes: dict[str, list[Box]],
                      top_k: float = 0.15, tolerance: float = 0.0) -> pd.DataFrame:
    """One row per image: ``image_id``, ``pointing`` (1.0 hit / 0.0 miss), ``iou_otsu``,
    ``iou_topk`` (top ``top_k`` fraction of pixels), ``energy_inside`` and ``box_area``: the
    boxes' share of the image, which is what a uniform map (or a random point) scores on the
    pointing game and the energy, so it is the chance level of both. Images without boxes raise
    (select the boxed images first)."""
    rows = []
    for image_id, heat in zip(image_ids, maps):
        if image_id not in boxes:
            raise KeyError(f"image {image_id} has no radiologist box")
        b = boxes[image_id]
        rows.append({"image_id": image_id, "pointing": float(pointing_game(heat, b, tolerance)),
                     "iou_otsu": iou_thresholded(heat, b, "otsu"),
                     "iou_topk": iou_thresholded(heat, b, "top_k", top_k),
                     "energy_inside": energy_inside(heat, b),
                     "box_area": float(box_mask(b, heat.shape).mean())})
    return pd.DataFrame(rows)


LOCALIZATION_METRICS = {"pointing": "pointing game (hit rate)", "iou_otsu": "IoU, Otsu threshold",
                        "iou_topk": "IoU, top-k% pixels", "energy_inside": "energy inside box"}


def chance_localization(rows: pd.DataFrame, top_k: float) -> dict[str, np.ndarray]:
    """Per-image chance levels of each metric: a random point / uniform map scores the box
    area ``a`` on the pointing game and the energy; a random top-k mask has expected IoU about
    ``k a / (k + a - k a)``; a map marking the whole image has IoU ``a`` (Otsu's stand-in)."""
    a = rows["box_area"].to_numpy()
    return {"pointing": a, "energy_inside": a, "iou_otsu": a,
            "iou_topk": top_k * a / (top_k + a - top_k * a)}


def interval_rows(values: dict[str, np.ndarray], patients: np.ndarray, n_boot: int,
                  seed: int, **labels) -> list[dict]:
    """Patient-bootstrap mean of each named per-image array -> rows ``quantity, value, low,
    high, images`` (+ ``labels``)."""
    rows = []
    for name, v in values.items():
        interval = patient_bootstrap_mean(v, patients, n_boot=n_boot, seed=seed)
        rows.append({**labels, "quantity": name, "value": interval.value, "low": interval.low,
                     "high": interval.high, "images": int(np.isfinite(np.asarray(v, float)).sum())})
    return rows


def localization_table(rows: pd.DataFrame, top_k: float, n_boot: int = 1000,
                       seed: int = 0) -> pd.DataFrame:
    """``rows``: localization rows with ``method`` and ``patient_id``. Returns long rows
    ``method, quantity, value, low, high, images`` per method and metric, plus the chance level
    (``method = "chance (uniform map)"``) computed on the first method's images."""
    out = []
    for method, group in rows.groupby("method", sort=False):
        patients = group["patient_id"].to_numpy()
        out += interval_rows({m: group[m].to_numpy() for m in LOCALIZATION_METRICS}, patients,
                             n_boot, seed, method=method)
    first = rows[rows["method"] == rows["method"].iloc[0]]
    out += interval_rows(chance_localization(first, top_k), first["patient_id"].to_numpy(),
                         n_boot, seed, method="chance (uniform map)")
    table = pd.DataFrame(out)
    table["quantity"] = table["quantity"].map(LOCALIZATION_METRICS).str.replace(
        "top-k%", f"top {top_k:.0%}")
    return table


def excess_over_chance(rows: pd.DataFrame, top_k: float, n_boot: int = 1000,
                       seed: int = 0) -> pd.DataFrame:
    """Per method, the per-image excess of each localisation metric over its chance level
    (``chance_localization``), as patient-bootstrap means: rows ``method, quantity, value, low,
    high, images``. Pairing each image with its own chance level is sharper than comparing two
    separate intervals: an interval above 0 means the maps beat chance on these images."""
    out = []
    for method, group in rows.groupby("method", sort=False):
        chance = chance_localization(group, top_k)
        out += interval_rows({m: group[m].to_numpy() - chance[m] for m in LOCALIZATION_METRICS},
                             group["patient_id"].to_numpy(), n_boot, seed, method=method)
    table = pd.DataFrame(out)
    table["quantity"] = table["quantity"].map(LOCALIZATION_METRICS).str.replace(
        "top-k%", f"top {top_k:.0%}")
    return table


def paired_difference(rows: pd.DataFrame, method_a: str, method_b: str, columns: Sequence[str],
                      n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Per-image difference ``method_a - method_b`` of each column on the images both methods
    have, as patient-bootstrap means: rows ``quantity, value, low, high, images``. An interval
    that excludes 0 is a difference this sample can see."""
    a = rows[rows["method"] == method_a].set_index("image_id")
    b = rows[rows["method"] == method_b].set_index("image_id")
    shared = a.index.intersection(b.index)
    if shared.empty:
        raise ValueError(f"{method_a!r} and {method_b!r} share no image")
    a, b = a.loc[shared], b.loc[shared]
    diffs = {c: a[c].to_numpy() - b[c].to_numpy() for c in columns}
    return pd.DataFrame(interval_rows(diffs, a["patient_id"].to_numpy(), n_boot, seed))


def region_rows(maps: np.ndarray, image_ids: Sequence[str]) -> pd.DataFrame:
    """One row per image: the energy share of each region of ``tmvlib.explain.regions``
    (``REGIONS`` plus the corners one by one), the regions' area shares (``area_*``) and
    ``peak_region``. All-zero maps give NaN energies (left out of means, counted)."""
    rows = []
    for image_id, heat in zip(image_ids, maps):
        energy = energy_by_region(heat)
        rows.append({"image_id": image_id, **energy, "peak_region": peak_region(heat)})
    return pd.DataFrame(rows)


def region_table(rows: pd.DataFrame, by: Sequence[str], n_boot: int = 1000,
                 seed: int = 0) -> pd.DataFrame:
    """Mean energy share per region with patient-bootstrap intervals, per group of ``by``
    (e.g. ``["method", "set"]``). Columns: ``*by, quantity, value, low, high, images, area``
    (the region's share of the image: a uniform map's energy) and ``ratio`` = value / area
    (above 1: the region gets more heat than its size)."""
    out = []
    for key, group in rows.groupby(list(by), sort=False):
        key = key if isinstance(key, tuple) else (key,)
        labels = dict(zip(by, key))
        part = interval_rows({r: group[r].to_numpy() for r in REGIONS},
                             group["patient_id"].to_numpy(), n_boot, seed, **labels)
        for row in part:
            row["area"] = float(group[f"area_{row['quantity']}"].iloc[0])
            row["ratio"] = row["value"] / row["area"]
        out += part
    return pd.DataFrame(out)


def agreement_rows(maps_a: np.ndarray, maps_b: np.ndarray, image_ids: Sequence[str],
                   top_k: float = 0.15) -> pd.DataFrame:
    """Per image: ``spearman`` (rank correlation over pixels; NaN if a map is constant),
    ``iou_topk`` (overlap of the two top ``top_k`` pixel sets) and ``peak_distance`` (pixels
    between the two maxima)."""
    if maps_a.shape != maps_b.shape:
        raise ValueError(f"map stacks differ in shape: {maps_a.shape} vs {maps_b.shape}")
    rows = []
    for image_id, a, b in zip(image_ids, maps_a, maps_b):
        if np.ptp(a) == 0 or np.ptp(b) == 0:
            rho = float("nan")
        else:
            rho = float(spearmanr(a.ravel(), b.ravel()).statistic)
        ta, tb = binarize(a, "top_k", top_k), binarize(b, "top_k", top_k)
        iou = float(np.logical_and(ta, tb).sum() / np.logical_or(ta, tb).sum())
        pa = np.unravel_index(int(np.argmax(a)), a.shape)
        pb = np.unravel_index(int(np.argmax(b)), b.shape)
        rows.append({"image_id": image_id, "spearman": rho, "iou_topk": iou,
                     "peak_distance": float(np.hypot(pa[0] - pb[0], pa[1] - pb[1]))})
    return pd.DataFrame(rows)


def sanity_rows(model: torch.nn.Module, x: torch.Tensor, image_ids: Sequence[str],
                explain: Callable[[torch.nn.Module, torch.Tensor], np.ndarray],
                seed: int = 0, evaluate: Sequence[str] | None = None) -> pd.DataFrame:
    """Cascading randomisation (``tmvlib.explain.cascading_randomization``, maps at the steps
    named in ``evaluate``, None = all) of each image of ``x`` (N,3,H,W), concatenated with an
    ``image_id`` column."""
    return pd.concat([cascading_randomization(model, x[i:i + 1], explain, seed=seed,
                                              evaluate=evaluate)
                      .assign(image_id=image_id) for i, image_id in enumerate(image_ids)],
                     ignore_index=True)


def sanity_verdict(rows: pd.DataFrame, threshold: float = 0.5) -> dict:
    """Pass/fail of the cascade, decided before looking: a method passes when the median over
    images of |Spearman| with the trained map is below ``threshold`` at every step from the
    first randomised layer on (a map that depends on the learned weights must change once they
    are random). A randomised model whose map is constant (e.g. all zero after the ReLU) shares
    no ranking with the trained map: its undefined Spearman counts as 0 here. Returns ``passed``, ``worst_step`` (layer with the highest median |Spearman|),
    ``worst_median`` and ``final_median`` (everything randomised)."""
    later = rows[rows["step"] > 0].assign(abs_rho=lambda f: f["spearman"].abs().fillna(0.0))
    medians = later.groupby(["step", "layer"], sort=True)["abs_rho"].median()
    worst = medians.idxmax()
    return {"passed": bool((medians < threshold).all()), "worst_step": worst[1],
            "worst_median": float(medians.max()), "final_median": float(medians.iloc[-1]),
            "threshold": threshold}
