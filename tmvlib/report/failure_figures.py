"""Figures of the failure audit (matplotlib, embedded as PNG so they need no network).

One row per audited case: the radiograph (radiologist boxes in green where the image has any),
the Grad-CAM and Score-CAM overlays, the pixelwise spread of Grad-CAM under test-time
augmentation, and a text panel with the case's numbers and observations.
"""
from __future__ import annotations

import textwrap
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")  # headless: figures go into the executed notebook and to PNG files
import matplotlib.pyplot as plt
import numpy as np

from ..explain.overlay import overlay

SPREAD_CMAP = "magma"


def failure_case_grid(grays, gradcam, scorecam, spread, texts: Sequence[str],
                      boxes: Sequence[Sequence] | None = None,
                      scorecam_notes: Sequence[str] | None = None, spread_max: float | None = None,
                      alpha: float = 0.45, tile: float = 2.1, text_width: float = 3.6,
                      wrap: int = 62):
    """Rows of [radiograph, Grad-CAM, Score-CAM, TTA spread, text] for N cases.

    Args:
        grays: (N, H, W) uint8 radiographs. gradcam, scorecam: (N, H, W) maps in [0, 1] on the
            same pixels. spread: (N, H, W) pixelwise standard deviation of the TTA maps (NaN
            where undefined, drawn grey), on one colour scale for all rows: 0 to ``spread_max``
            (default: the largest finite value shown).
        texts: N blocks of text (lines separated by newlines; long lines are wrapped at
            ``wrap`` characters). boxes: optional N lists of (x, y, w, h) pixel boxes, drawn on
            the radiograph and both overlays. scorecam_notes: optional N captions under the
            Score-CAM tile (e.g. where the map comes from).

    Returns:
        the matplotlib Figure (``tmvlib.report.notebook.show_figure`` displays and frees it).
    """
    grays = np.asarray(grays)
    n = len(grays)
    if n == 0:
        raise ValueError("failure_case_grid needs at least one case")
    for name, stack in (("gradcam", gradcam), ("scorecam", scorecam), ("spread", spread)):
        if np.asarray(stack).shape != grays.shape:
            raise ValueError(f"{name} maps {np.asarray(stack).shape} do not match the "
                             f"radiographs {grays.shape}")
    if len(texts) != n:
        raise ValueError(f"{len(texts)} texts for {n} cases")
    boxes = boxes if boxes is not None else [[] for _ in range(n)]
    notes = scorecam_notes if scorecam_notes is not None else ["" for _ in range(n)]
    spread = np.asarray(spread, dtype=np.float32)
    finite = spread[np.isfinite(spread)]
    vmax = spread_max if spread_max is not None else (float(finite.max()) if finite.size else 1.0)
    vmax = vmax if vmax > 0 else 1.0
    cmap = plt.get_cmap(SPREAD_CMAP).with_extremes(bad="0.6")
    widths = [tile] * 4 + [text_width]
    fig, axes = plt.subplots(n, 5, figsize=(sum(widths), tile * 1.12 * n), squeeze=False,
                             gridspec_kw={"width_ratios": widths})
    titles = ["radiograph", "Grad-CAM", "Score-CAM", f"TTA spread (std, 0-{vmax:.2f})", ""]
    for row in range(n):
        gray = grays[row]
        tiles = [overlay(gray, np.zeros(gray.shape, np.float32), alpha=0.0, boxes=boxes[row]),
                 overlay(gray, gradcam[row], alpha=alpha, boxes=boxes[row]),
                 overlay(gray, scorecam[row], alpha=alpha, boxes=boxes[row])]
        for col, image in enumerate(tiles):
            axes[row, col].imshow(image)
        axes[row, 3].imshow(np.ma.masked_invalid(spread[row]), cmap=cmap, vmin=0, vmax=vmax)
        for col in range(4):
            axes[row, col].set_xticks([])
            axes[row, col].set_yticks([])
            if row == 0:
                axes[row, col].set_title(titles[col], fontsize=9)
        if notes[row]:
            axes[row, 2].set_xlabel(notes[row], fontsize=7)
        ax = axes[row, 4]
        ax.axis("off")
        lines = []
        for line in str(texts[row]).splitlines():
            lines += textwrap.wrap(line, wrap, subsequent_indent="  ") or [""]
        ax.text(0.0, 1.0, "\n".join(lines), va="top", ha="left", fontsize=6.5,
                family="DejaVu Sans", transform=ax.transAxes)
    fig.tight_layout()
    return fig


def figure_png(fig, dpi: int = 110) -> bytes:
    """PNG bytes of a figure (tight bounding box); the figure is closed. Render a case once and
    use the bytes both in the book (``IPython.display.Image``) and on disk."""
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def png_to_jpeg(png: bytes, quality: int = 85) -> bytes:
    """JPEG bytes of a PNG (RGB, ``quality`` 1-95): a quarter of the size of these overlays,
    for galleries embedded in the book; the files on disk stay PNG."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.open(io.BytesIO(png)).convert("RGB").save(buffer, "JPEG", quality=quality, optimize=True)
    return buffer.getvalue()


def case_text(record: dict, observations: Sequence[str]) -> str:
    """The text panel of one case: id, reasons, probability with its uncertainty, explanation
    stability, metadata, then the observations as bullets. ``record`` keys: ``image_id, set,
    reasons, label, prob, threshold, decision_uncertainty, mutual_information,
    ensemble_variance, instability, flip_rate, tta_count, view, sex, age, quality``."""
    def missing(value) -> bool:
        if isinstance(value, (float, np.floating)):
            return bool(np.isnan(value))
        return value is None or value == ""

    def num(key: str, fmt: str = ".2f") -> str:
        value = record.get(key)
        return "n/a" if missing(value) else format(value, fmt)

    age = "age n/a" if missing(record.get("age")) else f"{record['age']:.0f} y"
    sex = "sex n/a" if missing(record.get("sex")) else str(record["sex"])
    view = "view n/a" if missing(record.get("view")) else str(record["view"])
    flips, count = record.get("flip_rate"), record.get("tta_count")
    flip_text = ("n/a" if missing(flips) else
                 f"{round(flips * count)}/{count}" if not missing(count) else f"{flips:.0%}")
    lines = [f"{record['image_id']} ({record['set']}): {', '.join(record['reasons'])}",
             f"label {record['label']} · p = {num('prob')} (threshold {num('threshold')})",
             (f"dec. unc. {num('decision_uncertainty')} · MC MI {num('mutual_information', '.3f')} · "
              f"ens. var {num('ensemble_variance', '.3f')}"),
             f"TTA instability {num('instability')} · label flips {flip_text}",
             f"{view} · {sex} · {age} · file {record.get('quality') or 'n/a'}"]
    lines += [f"- {text}" for text in observations]
    return "\n".join(lines)
