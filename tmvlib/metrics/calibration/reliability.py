"""The per-bin table that a reliability diagram plots."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .binning import binned


def reliability_table(labels: np.ndarray, probs: np.ndarray,
                      sample_weight: np.ndarray | None = None, n_bins: int = 15,
                      binning: str = "equal_width", kind: str = "positive") -> pd.DataFrame:
    """One row per bin: what a reliability diagram draws (DeGroot & Fienberg 1983; Guo et al.
    2017, Fig. 1), with the same bins as :func:`.ece.ece` and :func:`.mce.mce`.

    Args:
        labels: (N,) in {0, 1}. probs: (N,) ``P(y=1)`` in [0, 1].
        sample_weight: (N,) non-negative weights; None: all ones.
        n_bins, binning, kind: as :func:`.ece.ece` (equal-mass ties can merge bins, so the table
            may have fewer than ``n_bins`` rows).

    Returns:
        DataFrame with one row per bin ``b`` (index ``bin``) and columns

        * ``lower``, ``upper``: bin edges; the bin is ``(lower, upper]``, the first one closed;
        * ``confidence``: mean confidence ``c_b`` (``p`` for ``kind="positive"``,
          ``max(p, 1-p)`` for ``"top_label"``);
        * ``observed``: ``o_b``, the observed frequency of ``y = 1`` (``"positive"``) or the
          accuracy of the predicted label (``"top_label"``);
        * ``count``: (weighted) number of samples; ``fraction``: ``count / total``;
        * ``gap``: ``observed - confidence`` (signed: > 0 means under-confident).

        Empty bins are kept with ``count`` 0 and NaN ``confidence``, ``observed`` and ``gap``:
        NaN appears only here, to show the bin is empty, and never in the ECE/MCE, which skip
        such bins. ``ECE = sum(fraction * |gap|)`` over the non-empty rows.
    """
    bins = binned(labels, probs, sample_weight, n_bins, binning, kind)
    table = pd.DataFrame({
        "lower": bins.edges[:-1],
        "upper": bins.edges[1:],
        "confidence": bins.confidence,
        "observed": bins.observed,
        "count": bins.weight,
        "fraction": bins.weight / bins.weight.sum(),
        "gap": bins.observed - bins.confidence,
    })
    table.index.name = "bin"
    return table
