"""Tables that measure explanations: localisation against radiologist boxes, where the heat goes,
agreement between methods and the cascading-randomisation sanity check.

Inputs are heatmaps (N,H,W) in [0, 1] (see ``tmvlib.explain``) with their image ids; outputs are
DataFrames with one row per image (``*_rows``) or one row per method and quantity with a
patient-bootstrap 95% interval (``*_table``: ``value, low, high, images``).
"""
from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from scipy.stats import spearmanr

from ..explain.faithfulness import blurred_baseline, curve_auc, perturbation_curves
from ..explain.localization import (THRESHOLD_GRID, binarize, box_auprc, box_mask, energy_inside,
                                    iou_thresholded, pointing_share, tune_threshold)
from ..explain.regions import REGIONS, energy_by_region, peak_region
from ..explain.sanity import (cascading_randomization, data_randomization, independent_randomization,
                              randomization_steps, similarity_rows)
from ..metrics.bootstrap import patient_bootstrap, patient_bootstrap_mean

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
                      tolerance: float = 15.0, thresholds: Sequence[float] | None = None) -> pd.DataFrame:
    """One row per image, the metrics of ``LOCALIZATION_METRICS``:

    ``pointing``: the pointing game with ``tolerance`` pixels (``pointing_share``: 1/0 for a map
    with one maximum, a random pick among tied maxima otherwise); ``pointing_strict``: the same at
    0 px (Saporta et al.'s hit rate); ``iou_tuned``: IoU at the image's ``thresholds`` entry
    (fitted on other images: ``crossfit_thresholds``; NaN when None); ``iou_otsu``: IoU at Otsu's
    threshold; ``auprc``: average precision of the map's pixels for the box pixels (Arun et al.
    2021); ``energy_inside``: the share of the map's mass inside the boxes; and ``box_area``, the
    boxes' share of the image. Images without boxes raise (select the boxed images first)."""
    rows = []
    thresholds = [None] * len(image_ids) if thresholds is None else list(thresholds)
    for image_id, heat, t in zip(image_ids, maps, thresholds, strict=True):
        if image_id not in boxes:
            raise KeyError(f"image {image_id} has no radiologist box")
        b = boxes[image_id]
        rows.append({"image_id": image_id, "pointing": pointing_share(heat, b, tolerance),
                     "pointing_strict": pointing_share(heat, b, 0.0),
                     "iou_tuned": float("nan") if t is None else iou_thresholded(heat, b, "threshold", threshold=t),
                     "iou_otsu": iou_thresholded(heat, b, "otsu"),
                     "auprc": box_auprc(heat, b),
                     "energy_inside": energy_inside(heat, b),
                     "box_area": float(box_mask(b, heat.shape).mean())})
    return pd.DataFrame(rows)


LOCALIZATION_METRICS = {"pointing": "pointing game ({tol} px)",
                        "pointing_strict": "hit rate (pointing game, 0 px)",
                        "iou_tuned": "IoU, cross-fitted threshold", "iou_otsu": "IoU, Otsu threshold",
                        "auprc": "AUPRC of map pixels vs box", "energy_inside": "energy inside box"}


def metric_labels(tolerance: float) -> dict[str, str]:
    """``LOCALIZATION_METRICS`` with the pointing-game tolerance written in."""
    return {k: v.format(tol=f"{round(float(tolerance), 1):g}") for k, v in LOCALIZATION_METRICS.items()}


def patient_folds(patients: Sequence[str], folds: int = 2, seed: int = 0) -> np.ndarray:
    """(N,) int fold of each image, whole patients per fold, deterministic in ``seed``: the
    sorted unique patients in a seeded random order, dealt round-robin into ``folds`` folds."""
    patients = np.asarray(patients)
    unique = np.unique(patients)
    if len(unique) < folds:
        raise ValueError(f"{len(unique)} patients cannot fill {folds} folds")
    order = np.random.default_rng(seed).permutation(len(unique))
    fold_of = dict(zip(unique[order], np.arange(len(unique)) % folds))
    return np.array([fold_of[p] for p in patients], dtype=int)


def crossfit_thresholds(maps: np.ndarray, image_ids: Sequence[str], patients: Sequence[str],
                        boxes: dict[str, list[Box]], folds: int = 2, seed: int = 0,
                        grid: Sequence[float] = THRESHOLD_GRID) -> tuple[np.ndarray, list[float]]:
    """Per image, the binarisation threshold with the best mean IoU on the *other* folds'
    images (``tune_threshold``; folds of whole patients, ``patient_folds``): the threshold
    is never fitted on the image it scores. Saporta et al. tuned on a validation set; the boxed
    images here are all there is, so they are cross-fitted. Returns (thresholds (N,), the
    threshold of each fold)."""
    fold = patient_folds(patients, folds, seed)
    per_fold = [tune_threshold([m for m, f in zip(maps, fold) if f != k],
                               [boxes[i] for i, f in zip(image_ids, fold) if f != k], grid)
                for k in range(folds)]
    return np.array([per_fold[f] for f in fold]), per_fold


def interval_rows(values: dict[str, np.ndarray], patients: np.ndarray, n_boot: int,
                  seed: int, **labels) -> list[dict]:
    """Patient-bootstrap mean of each named per-image array -> rows ``quantity, value, low,
    high, images`` (+ ``labels``); ``images`` counts the defined (non-NaN) values."""
    rows = []
    for name, v in values.items():
        interval = patient_bootstrap_mean(v, patients, n_boot=n_boot, seed=seed)
        rows.append({**labels, "quantity": name, "value": interval.value, "low": interval.low,
                     "high": interval.high, "images": int(np.isfinite(np.asarray(v, float)).sum())})
    return rows


def localization_table(rows: pd.DataFrame, tolerance: float, n_boot: int = 1000,
                       seed: int = 0) -> pd.DataFrame:
    """``rows``: localization rows with ``method`` (methods and baselines alike) and
    ``patient_id``. Returns long rows ``method, quantity, value, low, high, images`` per method
    and metric (metrics undefined on every image, e.g. ``iou_tuned`` without thresholds, are
    left out)."""
    labels = metric_labels(tolerance)
    out = []
    for method, group in rows.groupby("method", sort=False):
        values = {m: group[m].to_numpy() for m in labels if group[m].notna().any()}
        out += interval_rows(values, group["patient_id"].to_numpy(), n_boot, seed, method=method)
    table = pd.DataFrame(out)
    table["quantity"] = table["quantity"].map(labels)
    return table


def excess_over(rows: pd.DataFrame, baseline: str | Mapping[str, str], tolerance: float,
                methods: Sequence[str] | None = None, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Per method, the paired per-image excess of each localisation metric over its baseline on
    the same images, as patient-bootstrap means: rows ``method, quantity, value, low, high,
    images``. An interval above 0 means the method beats the baseline on these images.

    Args:
        baseline: the ``method`` value of the baseline's rows, one for every method, or method ->
            its own baseline (each method against its own prior map, chapter 05).
        methods: the methods compared (default: the mapping's keys, or every method in ``rows``
            other than the one baseline).
    """
    labels = metric_labels(tolerance)
    if isinstance(baseline, Mapping):
        methods = list(baseline) if methods is None else list(methods)
        against = dict(baseline)
    else:
        methods = [m for m in rows["method"].unique() if m != baseline] if methods is None else list(methods)
        against = dict.fromkeys(methods, baseline)
    columns = [m for m in labels if rows[m].notna().any()]
    parts = [paired_difference(rows, method, against[method], columns, n_boot, seed).assign(method=method)
             for method in methods]
    table = pd.concat(parts, ignore_index=True)
    table["quantity"] = table["quantity"].map(labels)
    return table[["method", "quantity", "value", "low", "high", "images"]]


def localization_at_coverage(rows: pd.DataFrame, coverages: Sequence[float], tolerance: float,
                             metrics: Sequence[str] = ("pointing", "iou_tuned"), n_boot: int = 1000,
                             seed: int = 0) -> pd.DataFrame:
    """Localisation of the most confident images: for each coverage c, the ``ceil(c N)`` images
    of highest ``confidence`` (a column of ``rows``, e.g. the decision margin; ties by order),
    each metric's patient-bootstrap mean. Rows ``coverage, quantity, value, low, high, images``
    (Saporta et al. 2022 found Grad-CAM localising better when the model was more confident)."""
    labels = metric_labels(tolerance)
    ordered = rows.sort_values("confidence", ascending=False, kind="stable")
    out = []
    for c in coverages:
        top = ordered.head(int(np.ceil(c * len(ordered))))
        out += interval_rows({labels[m]: top[m].to_numpy() for m in metrics},
                             top["patient_id"].to_numpy(), n_boot, seed, coverage=float(c))
    return pd.DataFrame(out)


def _weighted_spearman(labels, scores, sample_weight=None) -> float:
    if sample_weight is not None:
        labels, scores = np.repeat(labels, sample_weight), np.repeat(scores, sample_weight)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(spearmanr(labels, scores).statistic)


def confidence_correlation(rows: pd.DataFrame, tolerance: float,
                           metrics: Sequence[str] = ("pointing", "iou_tuned"), n_boot: int = 1000,
                           seed: int = 0) -> pd.DataFrame:
    """Spearman correlation of each metric with ``confidence`` over images, with a
    patient-bootstrap interval (Saporta et al. 2022 report it per pathology): rows ``quantity,
    value, low, high, images``. Above 0: the more confident, the better the map localises."""
    labels = metric_labels(tolerance)
    out = []
    for m in metrics:
        kept = rows[rows[m].notna()]
        interval = patient_bootstrap(_weighted_spearman, kept[m].to_numpy(), kept["confidence"].to_numpy(),
                                     kept["patient_id"].to_numpy(), n_boot=n_boot, seed=seed)
        out.append({"quantity": labels[m], "value": interval.value, "low": interval.low,
                    "high": interval.high, "images": len(kept)})
    return pd.DataFrame(out)


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
                seed: int = 0, evaluate: Sequence[str] | None = None,
                independent: Sequence[str] | None = (), permuted: torch.nn.Module | None = None,
                references: np.ndarray | None = None,
                random_head_maps: np.ndarray | None = None) -> pd.DataFrame:
    """The randomisation tests of ``tmvlib.explain.sanity`` on the images ``x`` (N,3,H,W), each
    randomised model explaining all of them in one call, concatenated with an ``image_id``
    column and a ``test`` column:

    cascading randomisation with maps at the steps ``evaluate`` (None = every step); each step of
    ``independent`` randomised alone (None = every step, ``()`` = none); the data-randomisation
    model ``permuted`` (None = skip). ``references`` (N,H,W): the trained model's maps when
    already computed. ``random_head_maps`` (N,H,W): the maps of the model with its head
    randomised as the cascade's first step (``tmvlib.explain.sanity.randomized_copy(model, "fc",
    seed).fc``), computed elsewhere (``ScoreCAM(heads=...)`` scores it from the trained model's
    own masked forwards): they stand for the cascade's ``fc`` step, which is then not
    recomputed."""
    refs = np.asarray(explain(model, x) if references is None else references, dtype=np.float32)
    if random_head_maps is not None:
        names = [name for name, _ in randomization_steps(model)] if evaluate is None else list(evaluate)
        evaluate = [name for name in names if name != "fc"]
    tests = [cascading_randomization(model, x, explain, seed=seed, evaluate=evaluate, reference=refs)]
    if random_head_maps is not None:
        tests.append(similarity_rows(refs, random_head_maps, "cascading", 1, "fc", "fc"))
    if independent is None or len(independent):
        tests.append(independent_randomization(model, x, explain, seed=seed, evaluate=independent,
                                               reference=refs))
    if permuted is not None:
        tests.append(data_randomization(model, permuted, x, explain, reference=refs))
    rows = pd.concat(tests, ignore_index=True)
    rows = _in_test_order(rows)
    ids = np.asarray(list(image_ids))
    return rows.assign(image_id=ids[rows.pop("image").to_numpy()])


def _in_test_order(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows sorted by test (``SANITY_TESTS`` order), then step; stable within a step."""
    order = {t: i for i, t in enumerate(SANITY_TESTS)}
    return frame.sort_values(["test", "step"], key=lambda c: c.map(order) if c.name == "test" else c,
                             kind="stable").reset_index(drop=True)


SANITY_TESTS = {"cascading": "cascading randomisation", "independent": "independent-layer randomisation",
                "data": "data randomisation (permuted labels)"}


def sanity_table(rows: pd.DataFrame, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Per test and randomisation step (step-0 rows dropped): the patient-bootstrap mean of
    ``|Spearman|``, ``Spearman`` and ``SSIM`` of the randomised against the trained map. Rows
    ``test, step, layer, quantity, value, low, high, images, missing``: ``missing`` counts the
    images whose Spearman is undefined (a constant map after randomisation): they are left out of
    the means and reported, never counted as a pass. A step with every map constant gets NaN."""
    later = rows[rows["step"] > 0]
    out = []
    for (test, step, layer), group in later.groupby(["test", "step", "layer"], sort=False):
        rho = group["spearman"].to_numpy(dtype=float)
        missing = int(np.isnan(rho).sum())
        values = {"|Spearman|": np.abs(rho), "Spearman": rho, "SSIM": group["ssim"].to_numpy(dtype=float)}
        for name, v in values.items():
            base = {"test": test, "step": int(step), "layer": layer, "quantity": name,
                    "missing": missing if name != "SSIM" else int(np.isnan(v).sum())}
            if np.isnan(v).all():
                out.append({**base, "value": np.nan, "low": np.nan, "high": np.nan, "images": 0})
                continue
            out += [{**base, **r} for r in interval_rows({name: v}, group["patient_id"].to_numpy(),
                                                          n_boot, seed)]
    return _in_test_order(pd.DataFrame(out))


def sanity_verdict(table: pd.DataFrame, threshold: float = 0.5, min_maps: int = 5) -> dict:
    """The pass rule, fixed before looking, applied to ``sanity_table`` rows: at each test and
    step, the mean ``|Spearman|`` of randomised and trained maps **passes** when its 95%
    interval lies below ``threshold``, **fails** when the interval lies at or above it, and is
    **undetermined** when the interval straddles it or fewer than ``min_maps`` randomised maps
    were defined (non-constant): a step resting on one or two maps has an interval of no width
    and decides nothing. A method passes when
    every step of every test passes, fails when any fails, else is undetermined. Returns
    ``verdict`` ("passes" / "fails" / "undetermined"), ``steps`` (a DataFrame: ``test, layer,
    value, low, high, images, missing, verdict``), ``worst`` (the step row with the highest
    mean |Spearman|), ``missing`` (maps left out), ``images`` (images per step, defined or
    not), ``tests`` (test -> verdict) and ``threshold``."""
    steps = table[table["quantity"] == "|Spearman|"].copy()
    steps["verdict"] = np.select([steps["high"] < threshold, steps["low"] >= threshold],
                                 ["passes", "fails"], "undetermined")
    steps.loc[steps["value"].isna() | (steps["images"] < min_maps), "verdict"] = "undetermined"

    def combine(verdicts) -> str:
        verdicts = set(verdicts)
        return "fails" if "fails" in verdicts else "passes" if verdicts == {"passes"} else "undetermined"

    tests = {t: combine(g["verdict"]) for t, g in steps.groupby("test", sort=False)}
    worst = steps.loc[steps["value"].idxmax()] if steps["value"].notna().any() else steps.iloc[0]
    return {"verdict": combine(steps["verdict"]), "steps": steps[["test", "layer", "value", "low", "high",
                                                                 "images", "missing", "verdict"]],
            "worst": worst, "missing": int(steps["missing"].sum()), "tests": tests,
            "images": int((steps["images"] + steps["missing"]).max()),
            "threshold": threshold, "min_maps": int(min_maps)}


def faithfulness_rows(score_fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor,
                      maps: dict[str, np.ndarray], image_ids: Sequence[str], steps: int = 10,
                      sigma: float = 10.0) -> pd.DataFrame:
    """Deletion and insertion AUC (``tmvlib.explain.faithfulness``; Petsiuk et al. 2018) of each
    method's maps. x: model inputs (N,3,H,W); maps: method -> (N,H,W) maps of the same images
    (a baseline map such as the prior is scored the same way); removed pixels become a blurred
    copy of the image (``blurred_baseline(sigma)``). Rows ``image_id, method, deletion,
    insertion, score`` (the explained probability of the intact image): a faithful map has a
    low deletion and a high insertion AUC."""
    rows = []
    for i, image_id in enumerate(image_ids):
        baseline = blurred_baseline(x[i], sigma)
        for method, stack in maps.items():
            deletion, insertion = perturbation_curves(score_fn, x[i], stack[i], baseline, steps=steps,
                                                      batch_size=steps + 1)
            rows.append({"image_id": image_id, "method": method, "deletion": curve_auc(deletion),
                         "insertion": curve_auc(insertion), "score": float(deletion[0])})
    return pd.DataFrame(rows)


FAITHFULNESS_METRICS = {"deletion": "deletion AUC (lower = more faithful)",
                        "insertion": "insertion AUC (higher = more faithful)"}


def faithfulness_summary(rows: pd.DataFrame, baseline: str | Mapping[str, str] = "prior map",
                         methods: tuple[str, str] = ("Grad-CAM", "Score-CAM"), n_boot: int = 1000,
                         seed: int = 0) -> pd.DataFrame:
    """``faithfulness_rows`` (with ``patient_id``) summarised as long rows ``method, kind,
    quantity, value, low, high, images``: each method's mean (``kind`` = "mean", the baselines'
    too), each method minus its baseline ("minus <baseline>"; ``baseline`` one method name for
    both, or method -> its own, e.g. its own prior map) and ``methods[1]`` minus ``methods[0]``
    ("minus <methods[0]>"), all paired per image with patient-bootstrap intervals; ``quantity`` is
    "deletion" or "insertion"."""
    metrics = list(FAITHFULNESS_METRICS)
    against = dict(baseline) if isinstance(baseline, Mapping) else dict.fromkeys(methods, baseline)
    parts = [pd.DataFrame(interval_rows({q: g[q].to_numpy() for q in metrics}, g["patient_id"].to_numpy(),
                                        n_boot, seed, method=m, kind="mean"))
             for m, g in rows.groupby("method", sort=False)]
    parts += [paired_difference(rows, m, against[m], metrics, n_boot, seed).assign(method=m, kind=f"minus {against[m]}")
              for m in methods]
    parts.append(paired_difference(rows, methods[1], methods[0], metrics, n_boot, seed).assign(
        method=methods[1], kind=f"minus {methods[0]}"))
    return pd.concat(parts, ignore_index=True)[["method", "kind", "quantity", "value", "low", "high", "images"]]


def fidelity_table(exact: np.ndarray, fast: np.ndarray, image_ids: Sequence[str], patients: np.ndarray,
                   top_k: float = 0.15, n_boot: int = 1000, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """How closely approximate maps (``fast``, e.g. top-k Score-CAM) follow ``exact`` ones
    (N,H,W) of the same images: per-image ``agreement_rows`` (with ``patient_id``) and their
    patient-bootstrap means ``quantity, value, low, high, images`` ("Spearman with exact",
    "IoU of top k% with exact")."""
    rows = agreement_rows(exact, fast, image_ids, top_k=top_k).assign(patient_id=patients)
    table = pd.DataFrame(interval_rows({"Spearman with exact": rows["spearman"].to_numpy(),
                                        f"IoU of top {top_k:.0%} with exact": rows["iou_topk"].to_numpy()},
                                       patients, n_boot, seed))
    return rows, table
