"""Failure audit: which images to look at, what the data say about each, and which candidate
failure modes the run supports.

Inputs are per-image DataFrames as chapter 06 writes them (``trust_scores.parquet``: ``image_id,
patient_id, label, prob, correct, set`` and score columns), after
:func:`tmvlib.tables.quadrants.assign_quadrants` where a ``danger`` column is needed. Everything here
is a function of those frames and of numbers passed in (the decision threshold of chapter 02,
the validation thresholds of the trust quadrants), so the chapter's prose can be generated from
the data and checked by tests.

- :func:`select_failure_cases`: the curated cases of the audit, each with its reasons.
- :func:`case_observations`: short written observations from fixed rules (no free text).
- :func:`failure_mode_table`: error rate with vs without each candidate failure mode, with
  patient-bootstrap intervals, the verdict and example cases.

The candidate modes themselves (their registry and the flag rule shared with the trust card) are
in :mod:`tmvlib.tables.failure_modes`; a case's record is built by
:func:`tmvlib.tables.cases.case_record`. Per-case map summaries are in
:mod:`tmvlib.explain.geometry`; a case's PNG and JSON are written by
:func:`tmvlib.report.records.write_case`.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from ..contracts.scores import constant_map_column
from ..explain.regions import EDGE_REGIONS
from ..metrics.bootstrap import patient_bootstrap_mean
from ..metrics.confidence import decision_margin, errors_at, predicted_positive
from ..metrics.frames import require_columns
from ..metrics.paired import group_mean, holm_family, paired_bootstrap

REASONS = ("danger zone", "confident false negative", "confident false positive",
           "least stable explanation", "shifted-set failure")
QUALITY_TEXT = {"squeezed": "resized to 224 px without keeping its aspect ratio (it looks "
                            "horizontally squeezed)",
                "downsampled": "downsampled by a source repository before preparation",
                "enhanced": "resized and contrast-enhanced by a source repository"}


def _top(frame: pd.DataFrame, column: str, n: int) -> pd.DataFrame:
    """The ``n`` rows with the highest ``column`` (NaN left out), ties broken by image id."""
    kept = frame[frame[column].notna()]
    return kept.sort_values([column, "image_id"], ascending=[False, True]).head(max(0, n))


def select_failure_cases(test: pd.DataFrame, external: pd.DataFrame, threshold: float,
                         instability_col: str, n_confident: int = 2, n_unstable: int = 3,
                         n_shifted: int = 3) -> pd.DataFrame:
    """The cases of the failure audit, one row per image, each with every reason it was picked.

    Rules (``margin`` = distance of the logit from the threshold's logit,
    ``tmvlib.tables.curate.decision_margin``):

    - ``danger zone``: every NIH test image with ``danger`` (incorrect and confident);
    - ``confident false negative`` / ``confident false positive``: the ``n_confident`` test
      errors of each kind with the largest margin (whether or not they are in the danger zone);
    - ``least stable explanation``: the ``n_unstable`` test images with the highest
      ``instability_col`` (correct or not), among measured maps: where ``test`` has the column's
      constant-map flag (``contracts.scores.constant_map_column``), a blank map, whose
      instability is a fill, is left out;
    - ``shifted-set failure``: the ``n_shifted`` wrong external images with the largest margin.

    Ties are broken by image id, so the selection is deterministic. A rule with no eligible
    image contributes nothing (never an error).

    Args:
        test: NIH test rows with ``image_id, label, prob, correct, danger`` and
            ``instability_col``. external: external rows with ``image_id, label, prob,
            correct`` (may be empty).
        threshold: chapter 02's decision threshold (``prob >= threshold`` is positive).

    Returns:
        DataFrame with columns ``image_id, set`` ("test" / "external"), ``reasons`` (list of
        the rules above that picked it, in the order of :data:`REASONS`), ``reason`` (the
        first) and ``margin``; ordered by first reason, then margin (largest first).
    """
    require_columns(test, ["image_id", "label", "prob", "correct", "danger", instability_col],
             "select_failure_cases (test)")
    require_columns(external, ["image_id", "label", "prob", "correct"], "select_failure_cases (external)")
    frames = {"test": test.assign(margin=decision_margin(test["prob"], threshold)),
              "external": external.assign(margin=decision_margin(external["prob"], threshold))}
    t, e = frames["test"], frames["external"]
    wrong = errors_at(t["label"], t["prob"], threshold)
    blank = constant_map_column(instability_col)
    measured = t[~t[blank].astype(bool)] if blank in t else t
    picks: dict[str, pd.DataFrame] = {
        "danger zone": _top(t[t["danger"].astype(bool)], "margin", len(t)),
        "confident false negative": _top(t[wrong & (t["label"] == 1)], "margin", n_confident),
        "confident false positive": _top(t[wrong & (t["label"] == 0)], "margin", n_confident),
        "least stable explanation": _top(measured, instability_col, n_unstable),
        "shifted-set failure": _top(e[~e["correct"].astype(bool)], "margin", n_shifted),
    }
    rows: dict[tuple[str, str], dict] = {}
    for reason in REASONS:
        name = "external" if reason == "shifted-set failure" else "test"
        for r in picks[reason].itertuples():
            key = (name, r.image_id)
            if key not in rows:
                rows[key] = {"image_id": r.image_id, "set": name, "reasons": [],
                             "margin": float(r.margin)}
            rows[key]["reasons"].append(reason)
    out = pd.DataFrame(list(rows.values()), columns=["image_id", "set", "reasons", "margin"])
    out["reason"] = [r[0] for r in out["reasons"]]
    order = {reason: i for i, reason in enumerate(REASONS)}
    out = out.assign(_order=out["reason"].map(order)).sort_values(
        ["_order", "margin", "image_id"], ascending=[True, False, True], kind="stable")
    return out.drop(columns="_order").reset_index(drop=True)[
        ["image_id", "set", "reasons", "reason", "margin"]]


def _present(value) -> bool:
    if value is None:
        return False
    try:
        return not pd.isna(value)
    except (TypeError, ValueError):
        return True


def case_observations(case: Mapping, threshold: float, uncertainty_threshold: float,
                      instability_threshold: float,
                      disagreement: float = 0.25) -> list[dict[str, str]]:
    """Short written observations about one case, from fixed rules on its numbers.

    ``case`` keys read (a missing or NaN key switches its rule off): ``label``, ``prob``,
    ``uncertainty`` (the quadrant's uncertainty score; its name in ``uncertainty_score``),
    ``instability`` (the quadrant's instability score; its name in ``instability_score``),
    ``flip_rate`` and ``tta_count`` (label flips under TTA), ``view``,
    ``set``, ``quality``, ``peak_region`` (of the Grad-CAM map, ``tmvlib.tables.explanation.
    peak_region``), ``peak_in_box`` (True / False / None), ``box_findings`` and
    ``method_peak_distance`` (Grad-CAM vs Score-CAM maxima, fraction of the width).

    Rules, in this order (``rule`` name: when it fires):

    - ``confident error``: wrong and uncertainty <= ``uncertainty_threshold``;
      ``flagged error``: wrong and uncertain; ``correct``: right;
    - ``edge peak``: the Grad-CAM maximum on the border band or a corner;
    - ``inside box`` / ``outside box``: the maximum inside / outside a radiologist box;
    - ``unstable explanation``: instability > ``instability_threshold``; ``stable but wrong``:
      a wrong prediction whose explanation is stable (so it gives no warning either);
    - ``label flips``: the label changes under at least one TTA perturbation;
    - ``AP view``; ``external population`` (``set == "external"``);
    - ``reprocessed file``: ``quality`` other than "full";
    - ``methods disagree``: the maxima of Grad-CAM and Score-CAM more than ``disagreement``
      of the width apart.

    Returns:
        list of ``{"rule": name, "text": sentence}`` in the order above.
    """
    out: list[dict[str, str]] = []

    def add(rule: str, text: str) -> None:
        out.append({"rule": rule, "text": text})

    get = {k: v for k, v in case.items() if _present(v)}
    wrong = None
    if "label" in get and "prob" in get:
        label, prob = int(get["label"]), float(get["prob"])
        predicted = int(predicted_positive(prob, threshold))
        wrong = bool(errors_at(label, prob, threshold))
        kind = ("false negative" if label == 1 else "false positive") if wrong else (
            "true positive" if label == 1 else "true negative")
        side = ">=" if predicted else "<"
        u_name = get.get("uncertainty_score", "uncertainty")
        if wrong and "uncertainty" in get and get["uncertainty"] <= uncertainty_threshold:
            add("confident error", f"Confident error ({kind}): p = {prob:.2f} {side} threshold "
                f"{threshold:.2f}, and its {u_name} {get['uncertainty']:.2f} is at or below the "
                f"validation cut {uncertainty_threshold:.2f}, so nothing in the probability "
                "warns the reader.")
        elif wrong and "uncertainty" in get:
            add("flagged error", f"Error ({kind}), but flagged: its {u_name} "
                f"{get['uncertainty']:.2f} is above the validation cut "
                f"{uncertainty_threshold:.2f}.")
        elif wrong:
            add("error", f"Error ({kind}): p = {prob:.2f} {side} threshold {threshold:.2f}.")
        else:
            add("correct", f"Correct ({kind}): p = {prob:.2f} {side} threshold {threshold:.2f}.")
    if get.get("peak_region") in EDGE_REGIONS:
        where = "in a corner" if get["peak_region"] == "corners" else "on the border band"
        add("edge peak", f"Grad-CAM's maximum lies {where} of the image, where markers and "
            "burnt-in text sit, rather than in the lung fields.")
    findings = get.get("box_findings") or "a finding"
    in_box = get.get("peak_in_box")
    if in_box is not None and bool(in_box):
        add("inside box", f"Grad-CAM's maximum lies inside the radiologist box ({findings}).")
    elif in_box is not None:
        add("outside box", f"Grad-CAM's maximum lies outside the radiologist box ({findings}).")
    if "instability" in get:
        i_name = get.get("instability_score", "instability")
        if get["instability"] > instability_threshold:
            add("unstable explanation", f"Unstable explanation: its {i_name} "
                f"{get['instability']:.2f} is above the validation cut "
                f"{instability_threshold:.2f}.")
        elif wrong:
            add("stable but wrong", f"The explanation is stable ({i_name} "
                f"{get['instability']:.2f} <= {instability_threshold:.2f}), so it gives no "
                "warning either.")
    if get.get("flip_rate", 0) > 0:
        if "tta_count" in get:
            n = int(get["tta_count"])
            add("label flips", f"The predicted label flips under "
                f"{round(get['flip_rate'] * n)} of {n} TTA perturbations.")
        else:
            add("label flips", f"The predicted label flips under {get['flip_rate']:.0%} of the "
                "TTA perturbations.")
    if get.get("view") == "AP":
        add("AP view", "AP view, as usual for young children." if get.get("set") == "external"
            else "AP view: often a portable, bedside film of a sicker patient.")
    if get.get("set") == "external":
        add("external population", "External population (pediatric, another hospital and "
            "scanner): outside the training distribution.")
    quality = get.get("quality")
    if quality not in (None, "full"):
        add("reprocessed file", "The file was " + QUALITY_TEXT.get(
            str(quality), f"processed by a source repository ({quality})") + ".")
    if get.get("method_peak_distance", 0) > disagreement:
        add("methods disagree", f"Grad-CAM and Score-CAM disagree on the location: their maxima "
            f"lie {get['method_peak_distance']:.0%} of the image width apart.")
    return out


def _indicator(values: pd.Series) -> np.ndarray:
    """(N,) float: 1.0 / 0.0 for True / False, NaN for missing (mode not applicable)."""
    out = np.full(len(values), np.nan)
    defined = values.notna().to_numpy()
    out[defined] = values[defined].astype(bool).to_numpy().astype(float)
    return out


def failure_mode_table(frame: pd.DataFrame, modes: Mapping[str, str], n_boot: int = 1000,
                       seed: int = 0, min_images: int = 5, n_examples: int = 3,
                       prefer: Iterable[str] = (), rank_by: str | None = None) -> pd.DataFrame:
    """Error rate with vs without each candidate failure mode, with patient-bootstrap intervals.

    Args:
        frame: per-image rows with ``image_id, patient_id, correct`` and one column per mode:
            True (the image shows the mode), False (it does not) or NaN / None (the mode does
            not apply to this image, e.g. "AP view" on another population: left out of that
            mode's comparison).
        modes: display name -> column.
        min_images: fewer images with (or without) the mode make the mode ``too thin``.
        n_examples: example ids per mode: wrong predictions that show it, the ids in
            ``prefer`` (the audited cases) first, then by ``rank_by`` (largest first, e.g. the
            decision margin), then by image id.

    A mode is ``supported`` when the patient-bootstrap 95% interval of the difference (error
    rate with - without; patients resampled once per draw for both groups,
    ``tmvlib.metrics.paired.paired_bootstrap``, draws lacking one group skipped) lies above 0
    **and** its Holm-adjusted p-value over the candidate modes that are not too thin is below
    0.05 (the modes form one family). Otherwise it is ``not supported`` (the interval includes
    0, errors are rarer with it, or the difference does not survive the correction) or ``too
    thin``.

    Returns:
        DataFrame, one row per mode: ``mode, column, images`` (where it applies), ``with_images,
        with_errors, with_rate, with_low, with_high, without_images, without_errors,
        without_rate, without_low, without_high, difference, diff_low, diff_high, p_value, mdd``
        (minimum detectable difference, 80% power), ``p_holm``, ``status`` ("supported" / "not
        supported" / "too thin"), ``reason`` (a phrase for the prose) and ``examples`` (list of
        image ids).
    """
    require_columns(frame, ["image_id", "patient_id", "correct", *modes.values()], "failure_mode_table")
    errors_all = (~frame["correct"].astype(bool)).to_numpy().astype(float)
    prefer = set(prefer)
    rank = (frame[rank_by].to_numpy(dtype=float) if rank_by else np.zeros(len(frame)))
    rows = []
    for name, column in modes.items():
        indicator = _indicator(frame[column])
        applies = ~np.isnan(indicator)
        members, errors = indicator[applies], errors_all[applies]
        patients = frame["patient_id"].to_numpy()[applies]
        inside = members == 1
        row = {"mode": name, "column": column, "images": int(applies.sum()),
               "with_images": int(inside.sum()), "with_errors": int(errors[inside].sum()),
               "without_images": int((~inside).sum()), "without_errors": int(errors[~inside].sum())}
        for key, group in (("with", inside), ("without", ~inside)):
            row.update({f"{key}_rate": np.nan, f"{key}_low": np.nan, f"{key}_high": np.nan})
            if group.any():
                interval = patient_bootstrap_mean(np.where(group, errors, np.nan), patients,
                                                  n_boot=n_boot, seed=seed)
                row.update({f"{key}_rate": interval.value, f"{key}_low": interval.low,
                            f"{key}_high": interval.high})
        row.update(difference=np.nan, diff_low=np.nan, diff_high=np.nan, se=np.nan, p_value=np.nan, mdd=np.nan,
                   p_method=None, p_mc_error=np.nan)
        if inside.any() and (~inside).any():
            d = paired_bootstrap(group_mean(errors, inside), group_mean(errors, ~inside), patients,
                                 n_boot=n_boot, seed=seed)
            row.update(difference=d.value, diff_low=d.low, diff_high=d.high, se=d.se, p_value=d.p_value,
                       mdd=d.minimum_detectable(), p_method=d.p_method, p_mc_error=d.p_mc_error)
        row["thin"] = row["with_images"] < min_images or row["without_images"] < min_images
        shown = frame.loc[applies].assign(_rank=rank[applies])[
            (indicator[applies] == 1) & (errors == 1)]
        shown = shown.assign(_preferred=~shown["image_id"].isin(prefer)).sort_values(
            ["_preferred", "_rank", "image_id"], ascending=[True, False, True])
        row["examples"] = shown["image_id"].head(n_examples).tolist()
        rows.append(row)
    table = pd.DataFrame(rows)
    judged = ~table["thin"] & table["p_value"].notna()
    table = holm_family(table, family=judged)
    status, reason = [], []
    for row in table.itertuples():
        if row.thin:
            status.append("too thin")
            reason.append(f"{row.with_images} image(s) with it and {row.without_images} without "
                          f"(fewer than {min_images})")
        elif row.diff_low > 0 and row.p_holm < 0.05:
            status.append("supported")
            reason.append(f"errors are more frequent with it (the interval excludes 0; Holm-adjusted "
                          f"p = {row.p_holm:.3f})")
        elif row.diff_low > 0:
            status.append("not supported")
            reason.append(f"the interval excludes 0 but the difference does not survive the Holm "
                          f"correction over the candidate modes (adjusted p = {row.p_holm:.3f})")
        else:
            status.append("not supported")
            reason.append("errors are rarer with it" if row.diff_high < 0 else
                          f"the interval of the difference includes 0 (this sample detects "
                          f"differences of about {row.mdd:.2f} or more)")
    table["status"], table["reason"] = status, reason
    examples = table.pop("examples")
    return table.drop(columns="thin").assign(examples=examples)
