"""The logits stage gives the unsharded logits, in this process and through Ray, exactly."""
import numpy as np
import pandas as pd
import pytest

from tmvlib.data.tensors import load_image_tensor
from tmvlib.models.fit import load_trained_classifier
from tmvlib.models.train import predict_logits
from tmvlib.parallel import map_images
from tmvlib.stages import LogitsStage


def test_sharded_logits_equal_one_unsharded_pass(trained):
    folder, records = trained
    result = map_images(LogitsStage(folder / "model.pt", 32, batch_size=8, engine="eager"), records, folder / "local",
                        shard_size=16, executor="local", progress=False)
    model, info, _ = load_trained_classifier(folder / "model.pt")
    whole = predict_logits(model, info, load_image_tensor(records, 32, progress=False), batch_size=8,
                           progress=False)
    np.testing.assert_array_equal(result["logit"].to_numpy(), whole.astype("float32"))
    assert result["image_id"].tolist() == records["image_id"].tolist()


@pytest.mark.slow
@pytest.mark.ray
def test_ray_logits_equal_local_logits(trained):
    ray = pytest.importorskip("ray")
    folder, records = trained
    stage = LogitsStage(folder / "model.pt", 32, batch_size=8, threads=1)
    local = map_images(stage, records, folder / "local1", shard_size=16, executor="local", progress=False)
    try:
        remote = map_images(stage, records, folder / "ray", shard_size=16, executor="ray", workers=2,
                            progress=False)
    finally:
        ray.shutdown()
    pd.testing.assert_frame_equal(remote, local)


def test_a_moved_checkpoint_keeps_the_finished_shards(trained, tmp_path, monkeypatch):
    """The stage's identity holds the checkpoint's sha256, not its path: a run folder moved
    elsewhere reuses its shards; a different model at the same path does not."""
    import shutil

    folder, records = trained
    moved = tmp_path / "moved.pt"
    shutil.copy(folder / "model.pt", moved)
    here, there = LogitsStage(folder / "model.pt", 32, batch_size=8), LogitsStage(moved, 32, batch_size=8)
    assert here.identity() == there.identity()
    assert "checkpoint" not in here.identity()
    first = map_images(here, records, tmp_path / "shards", shard_size=16, executor="local", progress=False)
    monkeypatch.setattr(LogitsStage, "run", lambda self, records: pytest.fail("a finished shard was recomputed"))
    again = map_images(there, records, tmp_path / "shards", shard_size=16, executor="local", progress=False)
    pd.testing.assert_frame_equal(again, first)
    moved.write_bytes(moved.read_bytes() + b"\0")  # another file at the same path: another identity
    assert there.identity() != here.identity()


@pytest.mark.parametrize("engine", ["torch", "onnxruntime", "openvino"])
def test_logits_through_a_forward_engine_agree_with_eager(trained, tmp_path, engine):
    """Every engine scores the same float32 function (the stage's default precision): logits
    within 1e-3 of eager float32."""
    folder, records = trained
    eager = map_images(LogitsStage(folder / "model.pt", 32, batch_size=8, engine="eager"), records,
                       tmp_path / "eager", shard_size=16, executor="local", progress=False)
    through = map_images(LogitsStage(folder / "model.pt", 32, batch_size=8, engine=engine), records,
                         tmp_path / engine, shard_size=16, executor="local", progress=False)
    assert through["image_id"].tolist() == eager["image_id"].tolist()
    np.testing.assert_allclose(through["logit"], eager["logit"], atol=1e-3)
    with pytest.raises(ValueError, match="engine"):
        LogitsStage(folder / "model.pt", 32, engine="tensorrt")
