import json
import re

import altair as alt
import pandas as pd

from tmvlib.report.charts import VEGA_GLOBAL, offline_html, use_offline_renderer


def test_offline_renderer_emits_no_external_script_and_no_bundle():
    use_offline_renderer()
    chart = alt.Chart(pd.DataFrame({"x": [1, 2], "y": [3, 4]})).mark_point().encode(x="x", y="y")
    bundle = chart._repr_mimebundle_()
    html = (bundle[0] if isinstance(bundle, tuple) else bundle)["text/html"]
    assert "<script src" not in html and "cdn" not in html.lower()
    assert f"window.{VEGA_GLOBAL}" in html
    assert len(html) < 20_000  # the spec only; vega itself is shipped once per site


def test_spec_is_embedded_and_ids_are_unique():
    spec = {"mark": "point", "data": {"values": [{"a": "</script>"}]}}
    first, second = offline_html(spec), offline_html(spec)
    ids = re.findall(r'id="(tmv-chart-\d+)"', first + second)
    assert len(set(ids)) == 2
    assert "</script>\"" not in first  # a closing tag inside the data cannot end the script
    payload = re.search(r"\('#tmv-chart-\d+', (\{.*\}), \{actions", first).group(1)
    assert json.loads(payload.replace("<\\/", "</")) == spec
