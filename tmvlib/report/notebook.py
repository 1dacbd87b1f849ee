"""One call at the top of every chapter: offline charts, readable tables, inline figures."""
from __future__ import annotations

import pandas as pd

from .charts import use_offline_renderer


def setup_notebook() -> None:
    """Offline altair renderer; pandas shows full cell text and two decimals."""
    use_offline_renderer()
    pd.set_option("display.max_colwidth", None)
    pd.set_option("display.precision", 2)
    pd.set_option("display.max_rows", 60)


def show_figure(fig, dpi: int = 110) -> None:
    """Display a matplotlib figure once, whatever the backend, and free it: embedded as PNG or,
    for photographic content (radiographs, heat maps), JPEG, at most 1600 px wide
    (``tmvlib.report.figures.figure_image``)."""
    from IPython.display import Image, display

    from .figures import figure_image

    data, kind = figure_image(fig, dpi=dpi)
    display(Image(data=data, format=kind))
