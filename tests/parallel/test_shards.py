import pandas as pd
import pytest

from tmvlib.parallel.shards import ShardError, ShardStore, plan_shards


def _records(n):
    return pd.DataFrame({"image_id": [f"i{k:03d}" for k in range(n)], "path": [f"p{k}" for k in range(n)]})


def test_plan_cuts_consecutive_rows_and_refuses_duplicates():
    planned = plan_shards(_records(7), 3)
    assert planned["shard"].tolist() == [0, 0, 0, 1, 1, 1, 2]
    with pytest.raises(ValueError, match="duplicate image_id.*i001"):
        plan_shards(pd.concat([_records(3), _records(2)]), 2)
    with pytest.raises(ValueError, match="image_id"):
        plan_shards(pd.DataFrame({"path": ["a"]}), 2)


def test_store_checks_every_image_once_and_keeps_only_an_identical_run(tmp_path):
    store = ShardStore(tmp_path / "s")
    planned = store.prepare(_records(5), 2, {"stage": "x", "p": 1})
    shard0 = store.records(0)
    assert shard0["image_id"].tolist() == ["i000", "i001"] and "shard" not in shard0
    with pytest.raises(ShardError, match="counted twice \\['i000'\\]"):
        store.write(0, shard0, pd.DataFrame({"image_id": ["i000", "i000"]}))
    with pytest.raises(ShardError, match="lost \\['i001'\\]"):
        store.write(0, shard0, pd.DataFrame({"image_id": ["i000"]}))
    store.write(0, shard0, shard0.assign(v=1))
    with pytest.raises(ShardError, match="shards \\[1, 2\\] have no result"):
        store.read()
    store.prepare(_records(5), 2, {"stage": "x", "p": 1})  # identical: shard 0 kept
    assert store.finished() == {0}
    store.prepare(_records(5), 2, {"stage": "x", "p": 2})  # other parameters: start afresh
    assert store.finished() == set()
    for k in sorted(set(planned["shard"])):
        store.write(k, store.records(k), store.records(k).assign(v=k))
    assert store.read()["v"].tolist() == [0, 0, 1, 1, 2]
