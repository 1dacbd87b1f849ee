"""Our localisation numbers beside the published ones (``tmvlib.tables.literature``)."""
from __future__ import annotations

from collections.abc import Iterable, Mapping

import pandas as pd

from ..tables.literature import CHEXNET_CITATION, CHEXNET_PNEUMONIA_AUROC
from .wording import interval_text

CHEXNET = f"CheXNet's {CHEXNET_PNEUMONIA_AUROC} ({CHEXNET_CITATION})"


def _cell(value, low, high) -> str:
    if value is None and low is not None:
        return f"{low:.3f} to {high:.3f} (range over methods)"
    if low is None:
        return f"{value:.3f}"
    return interval_text(value, low, high, 3)


def side_by_side(ours: pd.DataFrame, data: str, finding: str, published: Iterable[Mapping]) -> pd.DataFrame:
    """One table: ``ours`` (rows ``method, quantity, value, low, high`` from this run) under the
    study name "this report", then the ``published`` entries (dicts with ``study, data, finding,
    method, metric, value, low, high, source``). Columns ``study, data, finding, method, metric,
    value, source``."""
    rows = [{"study": "this report", "data": data, "finding": finding, "method": r.method,
             "metric": r.quantity, "value": _cell(r.value, r.low, r.high), "source": "this run"}
            for r in ours.itertuples()]
    rows += [{"study": p["study"], "data": p["data"], "finding": p["finding"], "method": p["method"],
              "metric": p["metric"], "value": _cell(p["value"], p["low"], p["high"]), "source": p["source"]}
             for p in published]
    return pd.DataFrame(rows)


def published_comparison_text(official: pd.DataFrame | None, negatives: str) -> str:
    """Whether this run's AUROC can be set beside published NIH pneumonia numbers, in words.

    Args:
        official: :func:`tmvlib.tables.summary.official_test_list_summary` (None: the run is
            split by the salted patient hash).
        negatives: the task's negative rule (chapter 01's ``negatives``).
    """
    caveat = (f"{CHEXNET} is a 14-label DenseNet-121 evaluated on a patient split of the authors' own, "
              f"with every image without pneumonia as a negative (this task's negatives: '{negatives}'): "
              "read it as a direction, not a target digit.")
    if official is None:
        return ("This run splits patients by its own folds or salted hash (split_source: folds or hash), so no "
                "published number below was measured on the same images; the full profile (split_source: official) "
                "reports the AUROC on the release's official test list. " + caveat)
    auroc = official.loc["AUROC"]
    return (f"On the task's {official.attrs['images']} images ({official.attrs['patients']} patients) of the "
            f"release's official test list (test_list.txt: the test split and the localisation set's images "
            f"from it), the AUROC is {interval_text(auroc['value'], auroc['low'], auroc['high'])}. " + caveat)


def transfer_context_text() -> str:
    """The published transfer results between adult and pediatric chest X-rays
    (:data:`tmvlib.tables.literature.TRANSFER_STUDIES`) in one sentence, each with its source."""
    from ..tables.literature import TRANSFER_STUDIES

    parts = []
    for s in TRANSFER_STUDIES:
        auroc = (f"{s['AUROC']:.2f}" if s["low"] is None else
                 f"{s['AUROC']:.2f} (95% CI {s['low']:.2f}-{s['high']:.2f})")
        parts.append(f"a model trained on {s['trained on']} reached an AUROC of {auroc} on {s['tested on']} "
                     f"({s['study']}, {s['source']})")
    return "For direction, from the literature: " + "; ".join(parts) + ". Other models and preprocessing: not a target."
