"""The trust card as a PNG (image, Grad-CAM, Score-CAM and the numbers), a self-contained HTML
page (the PNG inlined, every number in a table, no network) and the JSON record."""
from __future__ import annotations

import base64
import html
import json
import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ..explain.overlay import overlay  # noqa: E402
from ..atomic import atomic_write_bytes, atomic_write_text  # noqa: E402
from ..report.failure_figures import figure_png  # noqa: E402
from ..report.records import json_safe  # noqa: E402
from ..formatting import bounds_text, interval_text  # noqa: E402


def _pct(ci: dict | None) -> str:
    if not ci:
        return "no NIH validation image fell in this cell"
    rate = interval_text(ci["rate"], ci["low"], ci["high"], digits=0, percent=True)
    return f"{rate} wrong ({ci['errors']}/{ci['images']} NIH validation images)"


def headline(record: dict) -> str:
    """The card's first line: the calibrated probability, or why there is none."""
    pred = record["prediction"]
    if record["status"] == "out of distribution":
        return (f"OUT OF DISTRIBUTION: no reliable probability (the model says "
                f"{pred['probability']:.2f}, shown for reference only)")
    decision = f" · rule: {record['deferral']['decision']}" if record.get("deferral") else ""
    return (f"P({record['task'].split(' vs ')[0]}) = {pred['probability']:.2f} (calibrated) -> "
            f"{pred['label']} at threshold {pred['threshold']:.2f}{decision}")


def summary_lines(record: dict) -> list[str]:
    """The numbers of the card as short lines (PNG text panel)."""
    pred, trust, stab = record["prediction"], record["trust"], record["stability"]
    mc, ens = pred["mc_dropout"], pred["ensemble"]
    instability = ("undefined (constant map), counted as unstable" if trust["instability"] is None else
                   f"{trust['instability']:.2f}, {'stable' if trust['stable'] else 'unstable'} against the "
                   f"validation threshold {trust['instability_threshold']:.2f}")
    return [
        f"MC dropout ({mc['samples']} masks): p = {mc['probability']:.2f}, 90% of samples in "
        f"{bounds_text(*mc['sample_range'], digits=2)}, mutual information {mc['mutual_information']:.4f}",
        f"Last-blocks ensemble ({ens['members']} members): p = {ens['probability']:.2f}, members "
        f"{bounds_text(*ens['member_range'], digits=2)}, variance {ens['variance']:.4f}",
        f"Explanation {stab['score']} (1 - mean Spearman with the unperturbed Grad-CAM): {instability}; "
        f"TTA label flips {_flip(stab.get('flip rate (TTA)'))}",
        f"Trust cell: {trust['cell']} -> {_pct(trust['cell_error_rate_val'])}",
        *([deferral_line(record["deferral"])] if record.get("deferral") else []),
    ]


def deferral_line(deferral: dict) -> str:
    """The deferral rule's decision with its reason and, for an answer, the rule's guarantee: a
    long-run error rate over the population, never a promise about this one answer."""
    text = f"Deferral rule ({deferral['rule']}, {deferral['score']}): {deferral['decision'].upper()}: {deferral['reason']}"
    if deferral["decision"] == "answer":
        text += f". This answer is not guaranteed; the rule is: {deferral['guarantee']}"
    return text


def _num(value) -> str:
    return "any" if value is None else f"{value:.3g}"


def _flip(value) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def card_figure(result) -> "plt.Figure":
    """Matplotlib figure of a :class:`~tmvlib.card.predictor.CardResult`."""
    record = result.record
    fig = plt.figure(figsize=(12, 6.6), dpi=100)
    grid = fig.add_gridspec(2, 4, height_ratios=[3.2, 2.2], width_ratios=[1, 1, 1, 0.9], hspace=0.25,
                            wspace=0.12)
    panels = [(result.gray, None, f"input ({record['input']['width']}x{record['input']['height']} "
                                  f"{record['input']['format']}, {record['input']['bit_depth']}-bit)"),
              (result.gray, result.gradcam, f"Grad-CAM (peak: {record['explanation']['gradcam_peak_region']})"),
              (result.gray, result.scorecam, f"Score-CAM {record['explanation']['scorecam']} "
                                             f"(peak: {record['explanation']['scorecam_peak_region']})")]
    for k, (gray, heat, title) in enumerate(panels):
        ax = fig.add_subplot(grid[0, k])
        ax.imshow(gray if heat is None else overlay(gray, heat), cmap="gray", vmin=0, vmax=255)
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    probability_strip(fig.add_subplot(grid[0, 3]), record)
    ax = fig.add_subplot(grid[1, :])
    ax.axis("off")
    ood = record["status"] == "out of distribution"
    ax.text(0, 1, headline(record), fontsize=12, weight="bold", va="top",
            color="#b00020" if ood else "black", transform=ax.transAxes)
    lines = summary_lines(record) + [f"! {w}" for w in record["warnings"]] or []
    wrapped = "\n".join(textwrap.fill(line, 150, subsequent_indent="   ") for line in lines)
    ax.text(0, 0.84, wrapped, fontsize=8.5, va="top", family="monospace", transform=ax.transAxes)
    ax.text(0, 0.0, record["disclaimer"], fontsize=8.5, va="bottom", color="#b00020", style="italic",
            transform=ax.transAxes)
    fig.suptitle(f"Trust card · {Path(record['image_id']).name} · run {record['run_id']}", fontsize=11, y=0.99)
    return fig


def probability_strip(ax, record: dict) -> None:
    """Uncalibrated P(positive) of the model, its MC-dropout samples, the ensemble members and
    the TTA copies, one row each, against the decision threshold: the spread is the
    uncertainty, points across the line are decisions that flip."""
    pred, stab = record["prediction"], record["stability"]
    rows = [("model", [pred["probability_uncalibrated"]]), ("MC dropout", pred["mc_dropout"]["sample_probs"]),
            ("ensemble", pred["ensemble"]["member_probs"]), ("TTA", stab["tta_probs"])]
    for y, (name, values) in enumerate(rows):
        ax.scatter(values, [y] * len(values), s=18, alpha=0.6, color=f"C{y}")
    ax.axvline(pred["threshold_uncalibrated"], color="#b00020", lw=1, ls="--")
    ax.text(pred["threshold_uncalibrated"], len(rows) - 0.4, " threshold", color="#b00020", fontsize=8)
    for y, (name, _) in enumerate(rows):  # labels inside the axes: no clash with the Score-CAM panel
        ax.text(0.01, y - 0.28, name, fontsize=8, color=f"C{y}")
    ax.set_yticks([])
    ax.set_ylim(len(rows) - 0.2, -0.6)
    ax.set_xlim(0, 1)
    ax.tick_params(axis="x", labelsize=8)
    ax.set_xlabel("P(positive), uncalibrated", fontsize=8)
    ax.set_title("probability under perturbation", fontsize=9)
    ax.grid(axis="x", alpha=0.3)


def card_png(result, dpi: int = 100) -> bytes:
    """PNG bytes of the card at ``dpi`` (about 1200 px wide at 100)."""
    return figure_png(card_figure(result), dpi=dpi)


def card_html(record: dict, png: bytes) -> str:
    """A self-contained page: the card image, a table of every number, warnings, disclaimer."""
    esc = html.escape
    pred, trust = record["prediction"], record["trust"]
    rows = [("status", record["status"]), ("task", record["task"]),
            ("probability (calibrated, T = %.2f)" % pred["temperature"], f"{pred['probability']:.3f}"),
            ("probability (uncalibrated)", f"{pred['probability_uncalibrated']:.3f}"),
            ("decision threshold", f"{pred['threshold']:.3f} calibrated ({pred['threshold_uncalibrated']:.3f} "
                                   f"uncalibrated, {pred['threshold_rule']} on validation)"),
            ("label at threshold", pred["label"])]
    rows += [(line.split(":")[0], line.split(":", 1)[1].strip()) for line in summary_lines(record)]
    rows += [(f"{trust['uncertainty_score']} (threshold)", f"{trust['uncertainty']:.4f} ({trust['uncertainty_threshold']:.4f})"),
             (f"{trust['instability_score']} (threshold)",
              ("undefined" if trust["instability"] is None else f"{trust['instability']:.4f}")
              + f" ({trust['instability_threshold']:.4f})"),
             ("Grad-CAM vs Score-CAM", f"Spearman {record['explanation']['methods_spearman']:.2f}, peaks "
                                       f"{record['explanation']['methods_peak_distance']:.2f} of the width apart"),
             ("model", record["model"]["weights"]), ("input", json.dumps(record["input"]))]
    rows += [(f"check: {c['name']}", f"{_num(c['value'])} (expected {_num(c['low'])} to {_num(c['high'])})"
              + (f" FIRED ({c['severity']})" if c["fired"] else " ok")) for c in record["checks"]]
    table = "\n".join(f"<tr><th>{esc(str(k))}</th><td>{esc(str(v))}</td></tr>" for k, v in rows)
    warnings = "".join(f"<li>{esc(w)}</li>" for w in record["warnings"]) or "<li>none</li>"
    colour = "#b00020" if record["status"] == "out of distribution" else "#222"
    image = base64.b64encode(png).decode()
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Trust card: {esc(Path(record['image_id']).name)}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:1240px;margin:1em auto;color:#222}}
.disclaimer{{border:2px solid #b00020;padding:.6em;color:#b00020;font-weight:600}}
h2{{color:{colour}}} table{{border-collapse:collapse;font-size:.9em}} th,td{{border:1px solid #ccc;padding:.25em .5em;
text-align:left;vertical-align:top}} th{{background:#f4f4f4;white-space:nowrap}} img{{max-width:100%}}</style></head>
<body><p class="disclaimer">{esc(record['disclaimer'])}</p>
<h1>Trust card</h1><p><code>{esc(record['image_id'])}</code> · run <code>{esc(record['run_id'])}</code></p>
<h2>{esc(headline(record))}</h2>
<img alt="input radiograph, Grad-CAM and Score-CAM overlays, and the card's numbers" src="data:image/png;base64,{image}">
<h3>Warnings</h3><ul>{warnings}</ul>
<h3>Numbers</h3><table>{table}</table>
<p>How each number is defined: the book's methodology page and chapter 08. JSON with every value: beside this file.</p>
</body></html>
"""


def clear_cards(directory: str | Path) -> int:
    """Remove the cards (``*.png``, ``*.html``, ``*.json``) an earlier run left in ``directory``, so
    that chapter 08's folder holds only the cards of its latest run; returns how many files went.
    ``tmv predict`` writes elsewhere by default (``predictions/``), so no user's card is removed."""
    directory = Path(directory)
    removed = 0
    for pattern in ("*.png", "*.html", "*.json"):
        for path in directory.glob(pattern):
            path.unlink()
            removed += 1
    return removed


def write_card(directory: str | Path, result, stem: str | None = None) -> dict[str, Path]:
    """Write ``<stem>.png``, ``<stem>.html`` and ``<stem>.json`` into ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    stem = stem or Path(result.record["image_id"]).stem
    png = card_png(result)
    paths = {"png": directory / f"{stem}.png", "html": directory / f"{stem}.html",
             "json": directory / f"{stem}.json"}
    atomic_write_bytes(paths["png"], png)
    atomic_write_text(paths["html"], card_html(result.record, png))
    atomic_write_text(paths["json"], json.dumps(json_safe(result.record), indent=1))
    return paths
