"""A chapter killed with SIGKILL at random points of its write phase: the next chapter either
refuses, naming the chapter to rerun, or reads a fully consistent state (every file of the
record's generation, asserted from the hashes and the content), never a mix; a rerun completes
the chapter."""
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tmvlib.artifacts import artifact_path, read_table
from tmvlib.runs import RunStateError, read_record, require_complete
from tmvlib.runs.records import output_hashes, params_hash

pytestmark = pytest.mark.slow  # SIGKILLed chapter processes: a few seconds each

WRITER = Path(__file__).with_name("chapter_writer.py")
RUN = "r"


def writer(chapter: str, generation: int, pause: float = 0.0) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(WRITER), RUN, chapter, str(generation), str(pause)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(chapter: str, generation: int) -> None:
    proc = writer(chapter, generation)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0 and "done" in out, err


def generations() -> set[int]:
    """The generation every artifact of chapter 02 holds (all must agree in a consistent state)."""
    found = set()
    for name in ("baseline_predictions", "baseline_metrics", "shortcut_aurocs", "shortcut_control"):
        if artifact_path(RUN, name).exists():
            found |= set(read_table(RUN, name)["generation"])  # a half-written file would not parse
    text = artifact_path(RUN, "baseline_threshold")
    if text.exists():
        found.add(int(text.read_text().split()[1]))
    checkpoint = artifact_path(RUN, "baseline_checkpoint")
    if checkpoint.exists():
        data = checkpoint.read_bytes()
        assert len(data) == 100_000 and len(set(data)) == 1, "a checkpoint was half written"
        found.add(data[0])
    return found


@pytest.mark.parametrize("seed", range(6))
def test_a_chapter_killed_while_writing_is_refused_or_whole_never_mixed(seed):
    finish("01_data", 1)
    finish("02_baseline", 1)
    rng = np.random.default_rng(seed)
    proc = writer("02_baseline", 2, pause=0.15)
    time.sleep(float(rng.uniform(0.3, 2.3)))  # start-up (~1 s), six writes 0.15 s apart, the record
    proc.kill()  # SIGKILL: no cleanup runs
    proc.wait()
    try:
        require_complete(RUN, ["02_baseline"], "03_uncertainty")
    except RunStateError as refused:
        assert refused.rerun == "02_baseline" and "make chapter CH=02" in str(refused)
    else:  # the kill came before the rerun began or after it finished: one generation, recorded
        record = read_record(RUN, "02_baseline")
        assert output_hashes(RUN, "02_baseline") == record["outputs"]
        (generation,) = generations()
        assert record["params_sha256"] == params_hash({"generation": generation})
    finish("02_baseline", 3)  # rerunning the interrupted chapter completes it
    require_complete(RUN, ["02_baseline"], "03_uncertainty")
    assert generations() == {3}
    leftovers = [p for p in artifact_path(RUN, "baseline_metrics").parent.parent.rglob("*.tmv-tmp*")]
    assert leftovers == []


def test_the_data_chapter_killed_mid_write_leaves_its_readers_refusing_or_whole():
    finish("01_data", 1)
    proc = writer("01_data", 2, pause=1.2)
    time.sleep(2.2)
    proc.kill()
    proc.wait()
    from tmvlib.data.store import load_splits

    try:
        require_complete(RUN, ["01_data"], "02_baseline")
        splits, _, meta = load_splits(RUN)
        assert set(splits["generation"]) == {meta["task"]["generation"]}
    except RunStateError as refused:
        assert refused.rerun == "01_data"
    assert isinstance(pd.read_parquet(artifact_path(RUN, "baseline_predictions").parents[3] / "splits" / RUN
                                      / "splits.parquet"), pd.DataFrame)
