import io

import matplotlib.pyplot as plt
import numpy as np
import pytest
from PIL import Image

from tmvlib.report.figures import (
    WEB_MAX_WIDTH,
    compress_image,
    figure_image,
    heatmap_grid,
)


def radiograph_like(n: int = 4, size: int = 128, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Smooth grey images with noise (like radiographs) and smooth maps in [0, 1]."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    grays = np.stack([np.clip(120 + 80 * np.sin(6 * x + k) * np.cos(4 * y)
                              + rng.normal(0, 12, x.shape), 0, 255) for k in range(n)])
    grays = grays.astype(np.uint8)
    maps = np.stack([np.exp(-((x - 0.3 - 0.1 * k) ** 2 + (y - 0.5) ** 2) / 0.05) for k in range(n)])
    return grays, maps.astype(np.float32)


def plain_png(fig, dpi: float = 110) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return buffer.getvalue()


def decode(data: bytes) -> np.ndarray:
    image = Image.open(io.BytesIO(data))
    if image.mode == "RGBA":
        flat = Image.new("RGB", image.size, "white")
        flat.paste(image, mask=image.getchannel("A"))
        image = flat
    return np.asarray(image.convert("RGB"), dtype=np.float64)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return 10 * np.log10(255 ** 2 / max(((a - b) ** 2).mean(), 1e-12))


def test_photographic_figures_become_jpeg_a_fraction_of_the_png():
    grays, maps = radiograph_like()
    reference = plain_png(heatmap_grid(grays, {"Grad-CAM": maps, "Score-CAM": maps[::-1]},
                                       [f"case {k}" for k in range(len(grays))]))
    fig = heatmap_grid(grays, {"Grad-CAM": maps, "Score-CAM": maps[::-1]},
                       [f"case {k}" for k in range(len(grays))])
    data, kind = figure_image(fig)
    assert kind == "jpeg" and data[:2] == b"\xff\xd8"
    assert not plt.fignum_exists(fig.number), "the figure is freed"
    assert len(data) < len(reference) / 2.5, (len(data), len(reference))
    assert psnr(decode(data), decode(reference)) > 38  # no visible loss at this quality


def test_line_art_stays_lossless_png():
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.plot([0, 1, 2, 3], [1, 3, 2, 4], color="tab:blue")
    ax.set_title("reliability")
    reference = plain_png(fig)
    data, kind = figure_image(fig)
    assert kind == "png"
    assert np.array_equal(decode(data), decode(reference))
    assert len(data) <= len(reference)


def test_few_colours_use_an_exact_palette():
    rng = np.random.default_rng(1)
    colours = rng.integers(0, 256, (200, 3), dtype=np.uint8)
    pixels = colours[rng.integers(0, 200, (60, 80))]
    buffer = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buffer, "PNG")
    data, kind = compress_image(buffer.getvalue(), png_allowance=100)
    assert kind == "png" and Image.open(io.BytesIO(data)).mode == "P"
    assert np.array_equal(decode(data), pixels.astype(np.float64))


def test_grey_images_are_stored_with_one_channel():
    grays, _ = radiograph_like(n=1, size=256)
    buffer = io.BytesIO()
    Image.fromarray(grays[0]).convert("RGBA").save(buffer, "PNG")
    data, _ = compress_image(buffer.getvalue())
    assert Image.open(io.BytesIO(data)).mode == "L"


@pytest.mark.parametrize("width_in", [8, 30])
def test_figures_are_at_most_the_web_width(width_in):
    fig, ax = plt.subplots(figsize=(width_in, 2))
    ax.imshow(radiograph_like(n=1)[0][0], cmap="gray", aspect="auto")
    data, _ = figure_image(fig, dpi=110)
    width = Image.open(io.BytesIO(data)).size[0]
    assert width <= WEB_MAX_WIDTH
    if width_in * 110 > WEB_MAX_WIDTH:
        assert width > 0.9 * WEB_MAX_WIDTH  # scaled to the limit, not far below it


def test_show_figure_embeds_the_compact_image(monkeypatch):
    import IPython.display

    from tmvlib.report.notebook import show_figure

    shown = []
    monkeypatch.setattr(IPython.display, "display", shown.append)
    grays, maps = radiograph_like(n=2)
    show_figure(heatmap_grid(grays, {"Grad-CAM": maps}, ["a", "b"]))
    (image,) = shown
    assert image.format == "jpeg" and image._repr_mimebundle_()[0].keys() == {"image/jpeg"}
