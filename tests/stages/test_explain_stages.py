"""Grad-CAM, Score-CAM and TTA-stability stages: sharded equals unsharded, and Ray equals in-process."""
import numpy as np
import pandas as pd
import pytest
import torch

from tmvlib.data.tensors import load_image_tensor
from tmvlib.explain.perturbations import tta_perturbations
from tmvlib.explain.run import explain_with_stats
from tmvlib.explain.sanity import randomized_copy
from tmvlib.explain.scorecam import ScoreCAM
from tmvlib.explain.stability import StabilityProtocol, tta_stability
from tmvlib.explain.store import load_heatmaps
from tmvlib.models.fit import load_trained_classifier
from tmvlib.parallel import map_images
from tmvlib.stages import GradCAMStage, ScoreCAMStage, TTAStabilityStage

TTA = dict(metric_size=16, top_k=0.15, grid=(4, 4), batch_size=8)


def protocol(perturbations, **extra) -> StabilityProtocol:
    return StabilityProtocol(perturbations, **TTA, **extra)


def test_tta_stability_sharded_equals_one_pass(trained):
    folder, records = trained
    records = records.assign(prob=np.linspace(0.05, 0.95, len(records)))
    perturbations = tta_perturbations(2, seed=0)
    stage = TTAStabilityStage(folder / "model.pt", 32, 0.5, protocol(perturbations))
    sharded = map_images(stage, records, folder / "tta", shard_size=16, executor="local", progress=False)
    model, info, _ = load_trained_classifier(folder / "model.pt")
    whole = tta_stability(model, load_image_tensor(records, 32, progress=False), info, records["prob"].to_numpy(),
                          0.5, records["image_id"].tolist(), protocol(perturbations))
    whole = whole.set_index("image_id").loc[records["image_id"]].reset_index()
    pd.testing.assert_frame_equal(sharded, whole)
    with pytest.raises(KeyError, match="'prob'"):
        map_images(stage, records.drop(columns="prob"), folder / "tta2", shard_size=16, executor="local",
                   progress=False)


@pytest.mark.slow
@pytest.mark.ray
def test_gradcam_maps_through_ray_equal_in_process(trained):
    ray = pytest.importorskip("ray")
    folder, records = trained
    local = map_images(GradCAMStage(folder / "model.pt", 32, str(folder / "maps-local"), batch_size=8, threads=1),
                       records, folder / "gc-local", shard_size=16, executor="local", progress=False)
    try:
        remote = map_images(GradCAMStage(folder / "model.pt", 32, str(folder / "maps-ray"), batch_size=8, threads=1),
                            records, folder / "gc-ray", shard_size=16, executor="ray", workers=2, progress=False)
    finally:
        ray.shutdown()
    pd.testing.assert_frame_equal(remote.drop(columns="seconds"), local.drop(columns="seconds"))  # timings aside
    ids = records["image_id"].tolist()
    np.testing.assert_array_equal(load_heatmaps(folder / "maps-ray", ids), load_heatmaps(folder / "maps-local", ids))


def test_mean_map_from_shard_sums_equals_the_mean_of_kept_maps(trained):
    """keep_maps=False writes one float64 sum per shard and no map per image; their mean is the
    mean of the kept maps, and the prior map built from it is the one built from the maps."""
    from tmvlib.explain.baselines import prior_from_mean

    folder, records = trained
    kept = GradCAMStage(folder / "model.pt", 32, str(folder / "maps-kept"), batch_size=8, map_dtype="float32")
    summed = GradCAMStage(folder / "model.pt", 32, str(folder / "maps-summed"), batch_size=8, keep_maps=False)
    map_images(kept, records, folder / "gc-kept", shard_size=16, executor="local", progress=False)
    rows = map_images(summed, records, folder / "gc-summed", shard_size=16, executor="local", progress=False)
    maps = kept.maps(records["image_id"])
    assert rows["map_sum"].nunique() == 3 and not list((folder / "maps-summed").glob("*.npy"))
    np.testing.assert_allclose(summed.mean_map(rows), maps.astype(np.float64).mean(0), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(prior_from_mean(summed.mean_map(rows)),
                                  prior_from_mean(np.asarray(maps, dtype=np.float64).mean(axis=0)))
    with pytest.raises(ValueError, match="keep_maps=False"):
        summed.maps(records["image_id"])
    with pytest.raises(ValueError, match="map_sum"):
        kept.mean_map(rows.drop(columns="map_sum"))


def test_scorecam_stage_sharded_equals_direct_scorecam(trained):
    """Engine built once per worker; float32 maps (and the random head's maps) identical to one
    direct ScoreCAM pass (torch engine), the per-image statistics carried in the rows."""
    folder, records = trained
    records = records.head(6)
    stage = ScoreCAMStage(folder / "model.pt", 32, str(folder / "sc-maps"), batch_size=16, engine="torch",
                          random_head_seed=3, map_dtype="float32", threads=1)
    rows = map_images(stage, records, folder / "sc", shard_size=4, executor="local", progress=False)
    model, info, _ = load_trained_classifier(folder / "model.pt")
    cam = ScoreCAM(model, batch_size=16, engine="torch", heads={"fc": randomized_copy(model, "fc", 3).fc})
    heads = {}
    direct, _, stats = explain_with_stats(cam, load_image_tensor(records, 32, progress=False), info, progress=False,
                                          head_maps=heads)
    ids = records["image_id"].tolist()
    np.testing.assert_array_equal(stage.maps(ids), direct)
    np.testing.assert_array_equal(stage.maps(ids, head="fc"), heads["fc"])
    assert rows["image_id"].tolist() == ids and (rows["seconds"] > 0).all()
    for column in ("forwards", "channels", "constant"):
        np.testing.assert_array_equal(rows[column].to_numpy(), stats[column].to_numpy())
    torch.testing.assert_close(stage.scorer().logits(torch.zeros(1, 3, 32, 32)),
                               cam.logits(torch.zeros(1, 3, 32, 32)), rtol=0, atol=0)


def test_scorecam_mean_map_from_shard_sums_equals_the_mean_of_kept_maps(trained):
    """Score-CAM's own prior (chapter 05): top-k maps summed per shard, none kept, give the mean
    of the same maps kept."""
    folder, records = trained
    records = records.head(6)
    common = dict(batch_size=16, top_k=4, engine="torch", threads=1)
    kept = ScoreCAMStage(folder / "model.pt", 32, str(folder / "sc-kept"), map_dtype="float32", **common)
    summed = ScoreCAMStage(folder / "model.pt", 32, str(folder / "sc-summed"), keep_maps=False, **common)
    map_images(kept, records, folder / "sck", shard_size=4, executor="local", progress=False)
    rows = map_images(summed, records, folder / "scs", shard_size=4, executor="local", progress=False)
    assert rows["map_sum"].nunique() == 2 and not list((folder / "sc-summed").glob("*.npy"))
    np.testing.assert_allclose(summed.mean_map(rows), kept.maps(records["image_id"]).astype(np.float64).mean(0),
                               rtol=0, atol=1e-12)


@pytest.mark.slow
def test_source_stability_on_shards_equals_one_pass_per_set(trained):
    """Chapter 06's three sources through SourceStabilityStage, shard by shard and set by set,
    give exactly the rows, reference maps and perturbed probabilities of one unsharded call."""
    from tmvlib.explain.stability import stability_by_source
    from tmvlib.models.fit import fit_or_load
    from tmvlib.orchestration import stability_by_set_on_shards

    from tmv_testing import toy_recipe, toy_training_data

    folder, records = trained
    fit_or_load(folder / "member.pt", toy_recipe(seed=1), toy_training_data(3, 4), progress=False)
    records = records.assign(prob=np.linspace(0.05, 0.95, len(records)))
    frames = {"val": records.iloc[:24].reset_index(drop=True), "test": records.iloc[24:].reset_index(drop=True)}
    sources = protocol(tta_perturbations(2, seed=0), mc_samples=3, seed=0)
    sharded = stability_by_set_on_shards([folder / "model.pt", folder / "member.pt"], frames, 32, 0.5, sources,
                                         shard_dir=folder / "shards", executor="local", shard_size=16)
    model, info, _ = load_trained_classifier(folder / "model.pt")
    member = load_trained_classifier(folder / "member.pt")[0]
    images = {name: load_image_tensor(frame, 32, progress=False) for name, frame in frames.items()}
    whole = {name: stability_by_source(model, [member], images[name], info, frame["prob"].to_numpy(), 0.5,
                                       frame["image_id"], sources) for name, frame in frames.items()}
    rows = pd.concat([whole[name].rows.assign(set=name) for name in frames], ignore_index=True)
    pd.testing.assert_frame_equal(sharded.rows, rows)
    for name in frames:
        np.testing.assert_array_equal(sharded.reference[name], whole[name].reference)
        assert sharded.probs[name].keys() == whole[name].sources.keys()
        for source, perturbed in whole[name].sources.items():
            np.testing.assert_array_equal(sharded.probs[name][source], perturbed.probs)


def test_a_moved_run_folder_recomputes_no_map(trained, tmp_path, monkeypatch):
    """A map stage's identity holds its map folder relative to the checkpoint's folder: a whole
    run folder moved elsewhere reuses its shards and finds their maps; maps sent to another
    folder of the same run are computed again."""
    import shutil

    folder, records = trained
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    for name in ("model.pt", "model.json"):
        shutil.copy(folder / name, run / "checkpoints" / name)

    def stage(root, maps="explanations/gradcam"):
        return GradCAMStage(root / "checkpoints" / "model.pt", 32, str(root / maps), batch_size=8)

    first = map_images(stage(run), records, run / "shards" / "gc", shard_size=16, executor="local", progress=False)
    before = stage(run).identity()
    moved = tmp_path / "elsewhere" / "run"
    shutil.move(run, moved)
    assert stage(moved).identity() == before
    assert "heatmap_dir" in stage(moved).identity() and not stage(moved).identity()["heatmap_dir"].startswith("/")
    with monkeypatch.context() as patch:
        patch.setattr(GradCAMStage, "run", lambda self, records: pytest.fail("a finished shard was recomputed"))
        again = map_images(stage(moved), records, moved / "shards" / "gc", shard_size=16, executor="local",
                           progress=False)
    pd.testing.assert_frame_equal(again, first)
    ids = records["image_id"].tolist()
    assert stage(moved).maps(ids).shape == (len(ids), 32, 32)
    assert stage(moved, "explanations/other").identity() != stage(moved).identity()


def test_a_fold_with_the_single_splits_inputs_reuses_its_stability(trained):
    """Chapter 06's deployed fold model is the single split's model on the same images: its
    stability is taken from the single split's run (checkpoints compared by sha256, not path)
    and equals a fresh computation; another threshold, another probability or another model
    is computed."""
    import shutil

    from tmvlib.orchestration import StabilityRun, fold_stability_on_shards, same_stability_inputs

    folder, records = trained
    shutil.copy(folder / "model.pt", folder / "fold_0.pt")
    shutil.copy(folder / "model.json", folder / "fold_0.json")
    records = records.assign(prob=np.linspace(0.05, 0.95, len(records)))
    frames = {"val": records.iloc[:8].reset_index(drop=True), "test": records.iloc[8:16].reset_index(drop=True)}
    sources = protocol(tta_perturbations(1, seed=0), mc_samples=2, seed=0)
    single = StabilityRun([folder / "model.pt"], frames, 0.5, stability=None)
    moved = {**frames, "test": frames["test"].assign(prob=frames["test"]["prob"] + 1e-6)}
    assert same_stability_inputs(single, [folder / "fold_0.pt"], frames, 0.5)
    assert not same_stability_inputs(single, [folder / "fold_0.pt"], frames, 0.4)
    assert not same_stability_inputs(single, [folder / "fold_0.pt"], moved, 0.5)
    assert not same_stability_inputs(single, [folder / "fold_0.pt", folder / "model.pt"], frames, 0.5)
    fresh = fold_stability_on_shards({0: [folder / "fold_0.pt"]}, {0: frames}, {0: 0.5}, 32, sources,
                                     shard_dir=folder / "fresh", executor="local", shard_size=8)[0]
    single = StabilityRun([folder / "model.pt"], frames, 0.5, fresh)
    runs = fold_stability_on_shards({0: [folder / "fold_0.pt"], 1: [folder / "fold_0.pt"]}, {0: frames, 1: moved},
                                    {0: 0.5, 1: 0.5}, 32, sources, shard_dir=folder / "folds", executor="local",
                                    shard_size=8, reuse=single)
    assert runs[0] is fresh
    assert not (folder / "folds" / "fold0").exists() and (folder / "folds" / "fold1").exists()
    pd.testing.assert_frame_equal(runs[1].rows.drop(columns="set"), fresh.rows.drop(columns="set"))


def test_a_fold_measured_under_tta_alone_equals_the_tta_of_every_source_and_reuses_it(trained):
    """Chapter 06's fold models under ``fold_sources: [TTA]``: the stage of one source gives the
    TTA part of the stage of every source (and is another shard identity, while a stage of every
    source keeps its old one); the deployed fold takes that part of the single split's run, whose
    members it no longer needs to match; a run of TTA alone cannot stand in for every source."""
    import shutil

    from tmvlib.explain.stability import SOURCES
    from tmvlib.models.fit import fit_or_load
    from tmvlib.orchestration import (StabilityRun, fold_stability_on_shards, same_stability_inputs,
                                      stability_by_set_on_shards)
    from tmvlib.stages import SourceStabilityStage

    from tmv_testing import toy_recipe, toy_training_data

    folder, records = trained
    fit_or_load(folder / "member.pt", toy_recipe(seed=1), toy_training_data(3, 4), progress=False)
    shutil.copy(folder / "model.pt", folder / "fold_0.pt")
    shutil.copy(folder / "model.json", folder / "fold_0.json")
    records = records.assign(prob=np.linspace(0.05, 0.95, len(records)))
    frames = {"val": records.iloc[:8].reset_index(drop=True), "test": records.iloc[8:16].reset_index(drop=True)}
    proto = protocol(tta_perturbations(1, seed=0), mc_samples=2, seed=0)
    checkpoints = [folder / "model.pt", folder / "member.pt"]
    full = stability_by_set_on_shards(checkpoints, frames, 32, 0.5, proto, shard_dir=folder / "all",
                                      executor="local", shard_size=8)
    alone = stability_by_set_on_shards(checkpoints, frames, 32, 0.5, proto, shard_dir=folder / "tta",
                                       executor="local", shard_size=8, sources=["TTA"])
    expected = full.of_sources(["TTA"])
    pd.testing.assert_frame_equal(alone.rows, expected.rows)
    for name in frames:
        np.testing.assert_array_equal(alone.reference[name], full.reference[name])
        assert list(alone.probs[name]) == ["TTA"]
        np.testing.assert_array_equal(alone.probs[name]["TTA"], full.probs[name]["TTA"])

    def stage(**kw):
        return SourceStabilityStage(str(folder / "model.pt"), [], 32, str(folder / "d"), 0.5, proto, **kw)
    assert "sources" not in stage().identity() and stage(sources=SOURCES).identity() == stage().identity()
    assert stage(sources=["TTA"]).identity()["sources"] == ["TTA"]

    single = StabilityRun(checkpoints, frames, 0.5, full)
    assert same_stability_inputs(single, [folder / "fold_0.pt"], frames, 0.5, ["TTA"])  # members not read
    assert not same_stability_inputs(single, [folder / "fold_0.pt"], frames, 0.5)  # every source: members differ
    assert not same_stability_inputs(StabilityRun(checkpoints[:1], frames, 0.5, alone, ("TTA",)),
                                     checkpoints[:1], frames, 0.5)
    runs = fold_stability_on_shards({0: [folder / "fold_0.pt", folder / "model.pt"]}, {0: frames}, {0: 0.5}, 32,
                                    proto, shard_dir=folder / "folds_tta", executor="local", shard_size=8,
                                    reuse=single, sources=["TTA"])
    assert not (folder / "folds_tta").exists()
    pd.testing.assert_frame_equal(runs[0].rows, expected.rows)
