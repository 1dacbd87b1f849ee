"""Image figures for the book (matplotlib, embedded as PNG so they need no network)."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # headless: figures go into the executed notebook, never to a window
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from ..data.images import load_image  # noqa: E402


def example_grid(frame: pd.DataFrame, per_class: int = 4, seed: int = 0,
                 class_names: dict[int, str] | None = None, group: str = "label"):
    """A grid of radiographs: one row per class, ``per_class`` images drawn with ``seed``.

    Each tile is captioned with image id, view, sex and age, so a reader can see the population.
    Returns the matplotlib Figure.
    """
    class_names = class_names or {}
    groups = sorted(frame[group].unique())
    fig, axes = plt.subplots(len(groups), per_class, figsize=(2.3 * per_class, 2.6 * len(groups)),
                             squeeze=False)
    for row, value in enumerate(groups):
        members = frame[frame[group] == value]
        picks = members.sample(n=min(per_class, len(members)), random_state=seed)
        for col in range(per_class):
            ax = axes[row, col]
            ax.axis("off")
            if col >= len(picks):
                continue
            rec = picks.iloc[col]
            ax.imshow(load_image(rec["path"]), cmap="gray", vmin=0, vmax=255)
            age = "" if pd.isna(rec["age"]) else f", {rec['age']:.0f} y"
            sex = "" if pd.isna(rec["sex"]) or rec["sex"] == "" else f", {rec['sex']}"
            ax.set_title(f"{rec['image_id']}\n{rec['view']}{sex}{age}", fontsize=8)
        axes[row, 0].text(-0.08, 0.5, class_names.get(value, str(value)), rotation=90,
                          transform=axes[row, 0].transAxes, ha="right", va="center", fontsize=10)
    fig.tight_layout()
    return fig


def heatmap_grid(grays, maps: dict[str, "np.ndarray"], captions, boxes=None, alpha: float = 0.45,
                 tile: float = 2.2):
    """Rows of [radiograph, overlay of each method]: ``grays`` (N,H,W) uint8, ``maps`` method ->
    (N,H,W) in [0, 1], ``captions`` N strings (under the radiograph), ``boxes`` optional N lists of
    (x, y, w, h) boxes in the same pixels (drawn in green on every tile). Returns the Figure."""
    from ..explain.overlay import overlay

    boxes = boxes if boxes is not None else [[] for _ in range(len(grays))]
    cols = 1 + len(maps)
    fig, axes = plt.subplots(len(grays), cols, figsize=(tile * cols, tile * 1.12 * len(grays)),
                             squeeze=False)
    for row, gray in enumerate(grays):
        tiles = [overlay(gray, np.zeros(gray.shape, np.float32), alpha=0.0, boxes=boxes[row])]
        tiles += [overlay(gray, m[row], alpha=alpha, boxes=boxes[row]) for m in maps.values()]
        for col, (ax, image) in enumerate(zip(axes[row], tiles)):
            ax.imshow(image)
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title("radiograph" if col == 0 else list(maps)[col - 1], fontsize=9)
        axes[row, 0].set_xlabel(captions[row], fontsize=7)
    fig.tight_layout()
    return fig
