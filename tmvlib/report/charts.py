"""Altair charts that render with no network.

The book ships the vega + vega-lite + vega-embed bundle once, as ``book/_static/tmv-vega.js``
(written by ``tmv book`` from ``vl_convert.javascript_bundle``). The ``tmv`` renderer below
emits only a ``<div>`` and a call into that bundle, so a page holds no CDN script and no per-chart
copy of vega. In a live notebook session, where the bundle is not loaded, use altair's default
renderer (``alt.renderers.enable("default")``).
"""
from __future__ import annotations

import itertools
import json

import altair as alt

VEGA_GLOBAL = "tmvVegaEmbed"
_ids = itertools.count()


def offline_html(spec: dict) -> str:
    """HTML for one chart: a div and a script that waits for the shared bundle, then embeds."""
    div_id = f"tmv-chart-{next(_ids)}"
    payload = json.dumps(spec, separators=(",", ":")).replace("</", "<\\/")
    return (
        f'<div id="{div_id}" class="tmv-chart"></div>\n'
        "<script>(function draw(tries) {\n"
        f"  if (window.{VEGA_GLOBAL}) {{ window.{VEGA_GLOBAL}('#{div_id}', {payload}, "
        "{actions: false, renderer: 'svg'}); }\n"
        "  else if (tries > 0) { setTimeout(function () { draw(tries - 1); }, 50); }\n"
        f"  else {{ document.getElementById('{div_id}').textContent = "
        "'Chart unavailable: the page could not load _static/tmv-vega.js.'; }\n"
        "})(200);</script>"
    )


def _tmv_renderer(spec: dict, **_) -> dict:
    return {"text/html": offline_html(spec)}


alt.renderers.register("tmv", _tmv_renderer)


def use_offline_renderer(max_rows: int | None = 20000) -> None:
    """Render every chart through the shared offline bundle (call once per notebook)."""
    alt.renderers.enable("tmv")
    if max_rows is not None:
        alt.data_transformers.enable("default", max_rows=max_rows)
