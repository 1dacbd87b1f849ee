import numpy as np
import torch

from tmvlib.models.fit import fit_or_load
from tmvlib.models.train import TrainConfig, frozen_bank
from tmvlib.uncertainty.ensemble import fit_ensemble, member_config, member_logits

from tmv_testing import toy_data

FAST = dict(epochs=2, batch_size=16, lr=3e-3, patience=5, augment=True, augment_copies=1,
            precision="fp32", channels_last=False)
ARGS = dict(backbone="efficientnet_lite0", weights="auto", image_size=32, dropout=0.2,
            frozen_stages=6, split_hash="h")


def test_member0_is_the_baseline_and_shared_caches_change_nothing(tmp_path):
    (x, y), (xv, yv) = toy_data(), toy_data(32, seed=1)
    base = TrainConfig(**FAST)
    baseline = fit_or_load(tmp_path / "baseline.pt", train=base, train_images=x, train_labels=y,
                           val_images=xv, val_labels=yv, progress=False, **ARGS)
    members = fit_ensemble(3, tmp_path, train=base, train_images=x, train_labels=y, val_images=xv,
                           val_labels=yv, member0_checkpoint=tmp_path / "baseline.pt", progress=False, **ARGS)
    assert members[0].reused and not members[1].reused
    assert [m.record["weights"]["backbone"] for m in members] == ["efficientnet_lite0"] * 3

    # member 1 trained alone (building its own caches) equals member 1 trained on shared caches
    alone = fit_or_load(tmp_path / "alone.pt", train=member_config(base, 1), train_images=x,
                        train_labels=y, val_images=xv, val_labels=yv, progress=False, **ARGS)
    for key, value in alone.model.state_dict().items():
        assert torch.equal(value, members[1].model.state_dict()[key]), key

    bank = frozen_bank(baseline.model, baseline.weights, xv, base, progress=False)
    logits = member_logits(members, bank)
    assert logits.shape == (3, len(xv))
    assert not np.allclose(logits[0], logits[1])  # members differ
    assert np.allclose(logits[0], member_logits([baseline], bank)[0], atol=1e-5)
