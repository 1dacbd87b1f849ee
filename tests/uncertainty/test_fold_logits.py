"""Per-fold sampled logits on one shared frozen-stage bank."""
import numpy as np
import pandas as pd
import pytest
import torch

from tmvlib.models import build_classifier
from tmvlib.models.feature_cache import bank_outputs, frozen_prefix
from tmvlib.uncertainty.fold_logits import fold_method_logits, frozen_stages_shared


def models(n=2):
    out = []
    for seed in range(n):
        torch.manual_seed(seed)  # a new head and (here) new trainable stages per model
        model, _ = build_classifier("efficientnet_lite0", "auto", dropout=0.2, frozen_stages=6)
        out.append(model.eval())
    return out


def test_fold_models_share_their_frozen_stages_and_score_their_own_roles():
    fold = dict(enumerate(models(2)))
    assert frozen_stages_shared(list(fold.values()))
    images = torch.rand(6, 3, 32, 32)
    with torch.no_grad():
        bank = frozen_prefix(fold[0], images)
    ids = pd.Index([f"i{j}" for j in range(6)])
    sets = {0: {"calibration": pd.DataFrame({"image_id": ["i0", "i1"]}), "test": pd.DataFrame({"image_id": ["i2", "i3"]})},
            1: {"calibration": pd.DataFrame({"image_id": ["i2", "i3"]}), "test": pd.DataFrame({"image_id": ["i5", "i4"]})}}
    logits = fold_method_logits(fold, sets, bank, ids, mc_samples=4, seed=0)
    assert logits[1]["baseline"]["test"].shape == (1, 2) and logits[1]["MC dropout"]["test"].shape == (4, 2)
    expected = bank_outputs(fold[1], bank[[5, 4]]).numpy()
    assert np.allclose(logits[1]["baseline"]["test"][0], expected)
    with torch.no_grad():
        changed = models(1)[0]
        next(changed.trunk.get_submodule(changed.spec.stages[0][0]).parameters()).add_(1.0)
    assert not frozen_stages_shared([fold[0], changed])
    with pytest.raises(ValueError, match="do not share their frozen stages"):
        fold_method_logits({0: fold[0], 1: changed}, sets, bank, ids)
