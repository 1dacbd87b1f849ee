"""A test image's trust card reproduces its rows of the run it is built from: the MC-dropout
samples chapter 03 drew for that image (the masks are keyed by the seed and the image id, not by
the batch the image fell in). Needs the ci run, which make test builds in tests/notebooks first:
this file sits beside the reference notebooks so that it runs after them (in tests/card it ran
before them on a clean clone, and skipped)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tmv_testing import require_ci_run

pytestmark = [pytest.mark.slow, pytest.mark.notebooks]


def test_the_cards_mc_dropout_probability_is_chapter_03s_row():
    from tmvlib.artifacts import artifact_path
    from tmvlib.card import TrustCardPredictor, read_radiograph
    from tmvlib.data.store import load_splits

    require_ci_run()  # on CI the notebooks above have just built it
    rows = pd.read_parquet(artifact_path("ci", "uncertainty"))
    mc = rows[(rows["method"] == "MC dropout") & (rows["set"] == "test")].set_index("image_id")
    splits = load_splits("ci")[0].set_index("image_id")
    predictor = TrustCardPredictor.from_run("ci")
    for image_id in mc.index[[0, len(mc) // 2, len(mc) - 1]]:  # first, middle, last: other chunks
        result = predictor.predict(read_radiograph(splits.loc[image_id, "path"]), image_id=image_id,
                                   scorecam=False)
        card = result.record["prediction"]["mc_dropout"]
        assert len(card["sample_probs"]) == int(mc.loc[image_id, "samples"])
        assert np.mean(card["sample_probs"]) == pytest.approx(mc.loc[image_id, "prob"], abs=1e-4), image_id
