"""A test image's trust card reproduces its rows of the run it is built from: the MC-dropout
samples chapter 03 drew for that image (the masks are keyed by the seed and the image id, not by
the batch the image fell in). Needs the ci run, which make test builds in tests/notebooks first."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.notebooks]


def test_the_cards_mc_dropout_probability_is_chapter_03s_row():
    from tmvlib.artifacts import artifact_path
    from tmvlib.card import TrustCardPredictor, read_radiograph
    from tmvlib.data.store import load_splits
    from tmvlib.runs import RunStateError, require_complete

    try:
        require_complete("ci", ["08_trust_card"], "this test")
    except RunStateError as err:
        pytest.skip(f"needs a complete ci run ({err})")
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
