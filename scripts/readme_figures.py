"""Draw the README's pictures from a finished run (``make readme-figures RUN=default``):
the architecture diagram, a reliability diagram (chapter 03), a Grad-CAM / Score-CAM pair on a
radiologist-boxed test image (chapters 04-05) and a trust card (chapter 08), into docs/img/."""
from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from tmvlib.artifacts import baseline_predictions, radiologist_boxes  # noqa: E402
from tmvlib.config import project_root, run_dir  # noqa: E402
from tmvlib.data.tensors import load_image_tensor  # noqa: E402
from tmvlib.explain.overlay import overlay  # noqa: E402
from tmvlib.explain.store import heatmap_dir, load_heatmaps  # noqa: E402
from tmvlib.metrics.calibration import reliability_table  # noqa: E402
from tmvlib.report.failure_figures import figure_png, png_to_jpeg  # noqa: E402
from tmvlib.report.figures import compress_image  # noqa: E402
from tmvlib.report.uncertainty_charts import reliability_chart  # noqa: E402
from tmvlib.tables.explanation import boxes_by_image  # noqa: E402

STAGES = [("data", "01", "tmvlib.data\npatient-level splits"),
          ("model", "02", "tmvlib.models\npretrained CNN"),
          ("uncertainty", "03", "tmvlib.uncertainty\nMC dropout, ensemble"),
          ("explanation", "04-05", "tmvlib.explain\nGrad-CAM, Score-CAM"),
          ("stability", "06", "tmvlib.explain.stability\nperturbations"),
          ("trust analysis", "07", "tmvlib.eval\nquadrants, failures"),
          ("report", "08", "Jupyter Book\n+ trust cards")]


def save(png: bytes, target: Path) -> Path:
    data, fmt = compress_image(png)
    target = target.with_suffix(".jpg" if fmt == "jpeg" else ".png")
    target.write_bytes(data)
    print(f"wrote {target} ({len(data) / 1024:.0f} kB)")
    return target


def architecture() -> bytes:
    fig, ax = plt.subplots(figsize=(13, 2.3))
    ax.set_xlim(0, len(STAGES) * 2.1)
    ax.set_ylim(0, 2)
    ax.axis("off")
    for k, (name, chapter, detail) in enumerate(STAGES):
        x = k * 2.1
        ax.add_patch(plt.Rectangle((x + 0.05, 0.55), 1.75, 1.1, facecolor="#e8eef7", edgecolor="#34568b", lw=1.5))
        ax.text(x + 0.92, 1.35, name, ha="center", va="center", fontsize=10.5, weight="bold")
        ax.text(x + 0.92, 0.9, detail, ha="center", va="center", fontsize=7, color="#333")
        ax.text(x + 0.92, 0.3, f"chapter {chapter}", ha="center", fontsize=8, color="#34568b")
        if k < len(STAGES) - 1:
            ax.annotate("", xy=(x + 2.12, 1.1), xytext=(x + 1.82, 1.1),
                        arrowprops=dict(arrowstyle="->", lw=1.5, color="#34568b"))
    ax.text(0.05, 1.85, "params/<profile>/NN_*.yaml -> papermill -> notebooks/NN_*.ipynb (call tmvlib) -> "
            "artifacts/runs/<run_id>/ -> book/ -> HTML", fontsize=8.5, color="#555")
    return figure_png(fig)


def reliability(run_id: str, target: Path) -> Path:
    table = pd.read_parquet(run_dir(run_id) / "metrics" / "uncertainty.parquet")
    rows = []
    for method in ("baseline", "baseline + temperature", "ensemble + temperature"):
        group = table[(table["set"] == "test") & (table["method"] == method)]
        rows.append(reliability_table(group["label"].to_numpy(), group["prob"].to_numpy(), n_bins=10)
                    .assign(method=method))
    chart = reliability_chart(pd.concat(rows), f"Reliability, NIH test (run {run_id})")
    import vl_convert as vlc

    return save(vlc.vegalite_to_png(chart.to_json(), scale=1.5), target)


def cam_pair(run_id: str, target: Path) -> Path:
    preds = baseline_predictions(run_id)
    size = 224
    all_boxes = radiologist_boxes(run_id, size)
    boxes = boxes_by_image(all_boxes[all_boxes["finding"] == "Pneumonia"])
    scored = sorted(p.stem for p in heatmap_dir(run_dir(run_id), "scorecam").glob("*.npy"))
    candidates = preds[(preds["set"] == "test") & preds["image_id"].isin(list(boxes)) & preds["image_id"].isin(scored)
                       & (preds["label"] == 1)].sort_values("prob", ascending=False)
    row = candidates.iloc[0]
    gray = load_image_tensor(candidates.head(1), size, progress=False)[0, 0].numpy()
    maps = {m: load_heatmaps(heatmap_dir(run_dir(run_id), m), [row["image_id"]])[0] for m in ("gradcam", "scorecam")}
    fig, axes = plt.subplots(1, 3, figsize=(9, 3.2))
    for ax, (title, image) in zip(axes, [("radiograph + radiologist box", overlay(gray, np.zeros_like(gray, float), 0.0,
                                                                                   boxes=boxes[row["image_id"]])),
                                         ("Grad-CAM", overlay(gray, maps["gradcam"], boxes=boxes[row["image_id"]])),
                                         ("Score-CAM", overlay(gray, maps["scorecam"], boxes=boxes[row["image_id"]]))]):
        ax.imshow(image)
        ax.set_title(title, fontsize=10)
        ax.axis("off")
    fig.suptitle(f"{row['image_id']} (NIH test, Pneumonia, p = {row['prob']:.2f})", fontsize=10)
    return save(figure_png(fig), target)


def trust_card(run_id: str, target: Path) -> Path:
    flags = pd.read_parquet(run_dir(run_id) / "metrics" / "ood_flags.parquet")
    external = set(flags.loc[flags["set"] == "external", "image_id"])
    cards = [p for p in sorted((run_dir(run_id) / "cards").glob("*.png")) if p.stem in external]
    if not cards:
        raise SystemExit(f"no Kermany card in {run_dir(run_id) / 'cards'}: run chapter 08 first")
    jpeg = png_to_jpeg(cards[0].read_bytes())  # always .jpg: the README links that name, as the book shows cards
    target = target.with_suffix(".jpg")
    target.write_bytes(jpeg)
    print(f"wrote {target} ({len(jpeg) / 1024:.0f} kB)")
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--run", default="default")
    args = parser.parse_args()
    out = project_root() / "docs" / "img"
    for old in out.glob("*"):
        old.unlink()
    out.mkdir(parents=True, exist_ok=True)
    save(architecture(), out / "architecture")
    reliability(args.run, out / "reliability")
    cam_pair(args.run, out / "cam_pair")
    trust_card(args.run, out / "trust_card")


if __name__ == "__main__":
    main()
