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
    """Display a matplotlib figure once, as an embedded PNG whatever the backend, and free it."""
    import io

    import matplotlib.pyplot as plt
    from IPython.display import Image, display

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    display(Image(data=buffer.getvalue()))
