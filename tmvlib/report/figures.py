"""Image figures for the book (matplotlib, embedded as PNG or JPEG so they need no network).

``figure_image`` turns a figure into what the book embeds: at most ``WEB_MAX_WIDTH`` pixels wide,
as lossless PNG where that is compact (line art, text, few colours) and as JPEG where PNG is not
(radiographs and heat-map overlays, where PNG costs 3-5 times the bytes).
"""
from __future__ import annotations

import io

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


WEB_MAX_WIDTH = 1600      # px: twice the book's ~800 px text column (sharp on high-density screens)
JPEG_QUALITY = 85
PNG_ALLOWANCE = 1.5       # keep lossless PNG unless JPEG is smaller than PNG / this


def _png_at_most(fig, dpi: float, max_width: int) -> bytes:
    """PNG bytes of ``fig`` (tight bounding box), re-rendered at a lower dpi if wider than
    ``max_width`` pixels."""
    from PIL import Image

    for _ in range(3):
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
        width = Image.open(io.BytesIO(buffer.getvalue())).size[0]
        if width <= max_width:
            break
        dpi = dpi * max_width / width * 0.995
    return buffer.getvalue()


def compress_image(data: bytes, max_width: int = WEB_MAX_WIDTH, jpeg_quality: int = JPEG_QUALITY,
                   png_allowance: float = PNG_ALLOWANCE) -> tuple[bytes, str]:
    """A PNG (or any Pillow-readable image) as compact bytes for a web page: ``(bytes, format)``,
    format ``"png"`` or ``"jpeg"``.

    Transparency is flattened onto white, images wider than ``max_width`` are scaled down, grey
    images are stored with one channel. The lossless PNG (a palette where there are at most 256
    colours) is kept unless the JPEG (``jpeg_quality``, full-resolution colour, so thin coloured
    boxes and text stay sharp) is smaller than the PNG divided by ``png_allowance``."""
    from PIL import Image

    image = Image.open(io.BytesIO(data))
    image.load()
    if image.mode in ("RGBA", "LA", "P", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        image = Image.new("RGB", rgba.size, "white")
        image.paste(rgba, mask=rgba.getchannel("A"))
    image = image.convert("RGB")
    if image.width > max_width:
        height = max(1, round(image.height * max_width / image.width))
        image = image.resize((max_width, height), Image.Resampling.LANCZOS)
    pixels = np.asarray(image)
    if (pixels[..., 0] == pixels[..., 1]).all() and (pixels[..., 1] == pixels[..., 2]).all():
        image = image.convert("L")
    lossless = image
    if image.mode == "RGB" and image.getcolors(256) is not None:  # an exact palette image
        keys = (pixels[..., 0].astype(np.uint32) << 16) | (pixels[..., 1].astype(np.uint32) << 8) \
            | pixels[..., 2]
        palette, index = np.unique(keys, return_inverse=True)
        lossless = Image.fromarray(index.reshape(keys.shape).astype(np.uint8), mode="P")
        lossless.putpalette(np.stack([palette >> 16, (palette >> 8) & 255, palette & 255], axis=1)
                            .astype(np.uint8).tobytes())
    png, jpeg = io.BytesIO(), io.BytesIO()
    image.save(jpeg, "JPEG", quality=jpeg_quality, optimize=True, subsampling=0)
    lossless.save(png, "PNG", compress_level=6)  # to compare; the smallest PNG costs 5x the time
    if jpeg.tell() * png_allowance < png.tell():
        return jpeg.getvalue(), "jpeg"
    png = io.BytesIO()
    lossless.save(png, "PNG", optimize=True)
    return png.getvalue(), "png"


def figure_image(fig, dpi: float = 110, max_width: int = WEB_MAX_WIDTH,
                 jpeg_quality: int = JPEG_QUALITY) -> tuple[bytes, str]:
    """A matplotlib figure as compact image bytes for the book, ``(bytes, "png" | "jpeg")``
    (see ``compress_image``); rendered at ``dpi``, or lower where that would exceed
    ``max_width`` pixels. The figure is closed."""
    try:
        png = _png_at_most(fig, dpi, max_width)
    finally:
        plt.close(fig)
    return compress_image(png, max_width=max_width, jpeg_quality=jpeg_quality)
