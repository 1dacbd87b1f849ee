from dataclasses import replace

import numpy as np
import torch

import pytest

from tmvlib.models.fit import fit_or_load
from tmvlib.models.recipe import ModelRecipe, TrainingData
from tmvlib.models.train import TrainConfig, frozen_bank
from tmvlib.parallel import TaskPlacement
from tmvlib.uncertainty.ensemble import EnsembleSpec, bootstrap_patients, fit_ensemble, member_config, member_logits

from tmv_testing import toy_data

FAST = dict(epochs=2, batch_size=16, lr=3e-3, patience=5, augment=True, augment_copies=1,
            precision="fp32", channels_last=False)
RECIPE = ModelRecipe("efficientnet_lite0", "auto", 32, 0.2, 6, TrainConfig(**FAST), "h")


def _data():
    (x, y), (xv, yv) = toy_data(), toy_data(32, seed=1)
    return TrainingData(x, y, xv, yv)


@pytest.mark.slow
def test_member0_is_the_baseline_and_shared_caches_change_nothing(tmp_path):
    data = _data()
    base, xv = RECIPE.train, data.val_images
    baseline = fit_or_load(tmp_path / "baseline.pt", RECIPE, data, progress=False)
    members = fit_ensemble(EnsembleSpec(3), tmp_path, RECIPE, data, member0_checkpoint=tmp_path / "baseline.pt",
                           progress=False)
    assert members[0].reused and not members[1].reused
    assert [m.record["weights"]["backbone"] for m in members] == ["efficientnet_lite0"] * 3

    # member 1 trained alone (building its own caches) equals member 1 trained in the ensemble
    alone = fit_or_load(tmp_path / "alone.pt", replace(RECIPE, train=member_config(base, 1)), data,
                        progress=False)
    for key, value in alone.model.state_dict().items():
        assert torch.equal(value, members[1].model.state_dict()[key]), key

    bank = frozen_bank(baseline.model, baseline.weights, xv, base, progress=False)
    logits = member_logits(members, bank)
    assert logits.shape == (3, len(xv))
    assert not np.allclose(logits[0], logits[1])  # members differ
    assert np.allclose(logits[0], member_logits([baseline], bank)[0], atol=1e-5)


def test_designs_differ_only_in_the_views():
    base = TrainConfig(**FAST, seed=3)
    assert member_config(base, 0) == base == member_config(base, 0, "shared views")
    own, shared = member_config(base, 2), member_config(base, 2, "shared views")
    assert own.seed == shared.seed == 5
    assert own.cache_seed is None and shared.cache_seed == 3  # own views drawn with seed 5, or the baseline's
    with pytest.raises(ValueError, match="design"):
        member_config(base, 1, "deep")
    with pytest.raises(ValueError, match="design"):
        EnsembleSpec(2, "deep")


@pytest.mark.slow
def test_shared_views_members_reuse_one_cache_and_equal_training_alone(tmp_path):
    data = _data()
    members = fit_ensemble(EnsembleSpec(2, "shared views", prefix="shared"), tmp_path, RECIPE, data, progress=False)
    assert (tmp_path / "shared_1.pt").is_file()
    alone = fit_or_load(tmp_path / "alone.pt", replace(RECIPE, train=member_config(RECIPE.train, 1, "shared views")),
                        data, progress=False)
    for key, value in alone.model.state_dict().items():
        assert torch.equal(value, members[1].model.state_dict()[key]), key


def test_bootstrap_patients_keeps_whole_patients_and_is_seeded():
    patients = np.array(["a", "a", "b", "c", "c", "c", "d"])
    rows = bootstrap_patients(patients, seed=1)
    assert np.array_equal(rows, bootstrap_patients(patients, seed=1))
    drawn = patients[rows]
    for pid in set(drawn):  # a drawn patient comes with all of its images, k times each
        k = (drawn == pid).sum() / (patients == pid).sum()
        assert k == int(k) and k >= 1
    assert sum((drawn == p).sum() / (patients == p).sum() for p in set(drawn)) == 4  # as many draws as patients


@pytest.mark.slow
def test_bagging_needs_patients_and_keys_the_checkpoint(tmp_path):
    data = _data()
    with pytest.raises(ValueError, match="train_patients"):
        fit_ensemble(EnsembleSpec(2, bagging=True), tmp_path, RECIPE, data, progress=False)
    patients = np.arange(len(data.train_labels)) // 2
    members = fit_ensemble(EnsembleSpec(2, bagging=True), tmp_path, RECIPE, data, train_patients=patients,
                           progress=False)
    assert members[1].record is not None
    # a bagged member is keyed by its resample: the unbagged design does not reuse it
    plain = fit_ensemble(EnsembleSpec(2), tmp_path, RECIPE, data, progress=False)
    assert not plain[1].reused


@pytest.mark.slow
@pytest.mark.ray
@pytest.mark.parametrize("design", ["independent", "shared views"])
def test_members_trained_as_ray_tasks_equal_members_trained_here(tmp_path, design):
    """Each Ray task builds its own caches on one thread; the members equal those trained here."""
    ray = pytest.importorskip("ray")
    data = _data()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        here = fit_ensemble(EnsembleSpec(3, design), tmp_path / "here", RECIPE, data, progress=False)
        remote = fit_ensemble(EnsembleSpec(3, design), tmp_path / "ray", RECIPE, data,
                              placement=TaskPlacement("ray", 1), progress=False)
    finally:
        torch.set_num_threads(threads)
        ray.shutdown()
    assert [m.reused for m in remote] == [False] * 3
    for a, b in zip(here, remote):
        for key, value in a.model.state_dict().items():
            assert torch.equal(value, b.model.state_dict()[key]), key
