"""In-process execution, resumption after a crash, and the Ray executor (a worker killed
mid-shard is restarted; no image lost or counted twice)."""
import os
import signal
from pathlib import Path

import pandas as pd
import pytest

from tmvlib.parallel import ImageStage, map_images, resolve_executor, run_tasks


class Square(ImageStage):
    """value ** 2 per image; dies (crash=True: raises, kill=True: SIGKILL of its process) on the first
    visit of shard ``fail_on``, recorded in ``marks``; ``visits`` logs every shard computed."""

    name = "square"

    def __init__(self, marks: str, fail_on: int = -1, crash: bool = False, kill: bool = False):
        self.marks, self.fail_on, self.crash, self.kill = marks, fail_on, crash, kill

    def run(self, records):
        marks = Path(self.marks)
        first = records["image_id"].iloc[0]
        with open(marks / "visits.txt", "a") as log:
            log.write(first + "\n")
        flag = marks / f"failed-{first}"
        if first == f"i{self.fail_on * 4:03d}" and not flag.exists():
            flag.touch()
            if self.kill:
                os.kill(os.getpid(), signal.SIGKILL)
            if self.crash:
                raise RuntimeError("worker crashed")
        return pd.DataFrame({"image_id": records["image_id"], "square": records["value"] ** 2})


def _records(n=18):
    return pd.DataFrame({"image_id": [f"i{k:03d}" for k in range(n)], "value": range(n)})


def _visits(folder):
    return (folder / "visits.txt").read_text().split()


def test_local_run_resumes_from_finished_shards(tmp_path):
    stage = Square(str(tmp_path), fail_on=2, crash=True)
    with pytest.raises(RuntimeError, match="crashed"):
        map_images(stage, _records(), tmp_path / "out", shard_size=4, executor="local", progress=False)
    assert _visits(tmp_path) == ["i000", "i004", "i008"]
    result = map_images(stage, _records(), tmp_path / "out", shard_size=4, executor="local", progress=False)
    assert _visits(tmp_path)[3:] == ["i008", "i012", "i016"]  # shards 0 and 1 were not recomputed
    assert result["square"].tolist() == [k * k for k in range(18)]


def test_executor_names():
    assert resolve_executor("local") == "local"
    with pytest.raises(ValueError, match="executor must be one of"):
        resolve_executor("threads")


def _double(x):
    return 2 * x


@pytest.fixture(scope="module")
def ray_local():
    ray = pytest.importorskip("ray")
    import sys

    from ray import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import the tests
    os.environ.setdefault("TMV_RAY_CPUS", "2")
    yield ray
    ray.shutdown()


@pytest.mark.slow
@pytest.mark.ray
def test_ray_gives_the_local_results_and_survives_a_killed_worker(tmp_path, ray_local):
    local = map_images(Square(str(tmp_path)), _records(), tmp_path / "local", shard_size=4, executor="local",
                       progress=False)
    marks = tmp_path / "ray"
    marks.mkdir()
    stage = Square(str(marks), fail_on=1, kill=True)
    result = map_images(stage, _records(), tmp_path / "ray-out", shard_size=4, executor="ray", workers=2,
                        progress=False)
    assert (marks / "failed-i004").exists()             # the worker died inside shard 1 ...
    assert _visits(marks).count("i004") == 2            # ... which was retried once
    pd.testing.assert_frame_equal(result, local)        # every image once, same values
    assert sorted(p.name for p in (tmp_path / "ray-out").glob("shard-*")) == \
        sorted(p.name for p in (tmp_path / "local").glob("shard-*"))
    assert run_tasks(_double, [{"x": 1}, {"x": 2}], executor="ray") == [2, 4]


def test_a_stage_travels_without_what_setup_built(tmp_path):
    """What setup built here (a ``_`` attribute: a model, a compiled engine that cannot be
    pickled) is left behind; the parameters travel."""
    import pickle
    import threading

    stage = Square(str(tmp_path))
    stage._engine = threading.Lock()  # unpicklable, like OpenVINO's CompiledModel
    copy = pickle.loads(pickle.dumps(stage))
    assert copy._engine is None and copy.marks == stage.marks and copy.identity() == stage.identity()


def test_a_stage_version_above_one_joins_its_identity_and_recomputes_its_shards(tmp_path):
    import pandas as pd

    from tmvlib.parallel import ImageStage

    class Counting(ImageStage):
        name = "counting"

        def run(self, records):
            return pd.DataFrame({"image_id": records["image_id"], "n": 1})

    class CountingV2(Counting):
        version = 2

    assert "version" not in Counting().identity() and CountingV2().identity()["version"] == 2
    assert Counting().identity() != CountingV2().identity()
