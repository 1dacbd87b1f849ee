import os
import signal
import subprocess
import sys
import time

import pytest

from tmvlib.cli import EXIT_LOCKED, main
from tmvlib.runs import RunLocked, run_lock

HOLD = """
import sys, time
from tmvlib.runs import run_lock
with run_lock(sys.argv[1], exclusive=sys.argv[2] == "write", command="holder under test"):
    print("holding", flush=True)
    time.sleep(60)
"""


@pytest.fixture
def holder():
    """Start a process holding a run's lock; yields a function (run_id, mode) -> the process."""
    started = []

    def start(run_id: str, mode: str = "write") -> subprocess.Popen:
        proc = subprocess.Popen([sys.executable, "-c", HOLD, run_id, mode], stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "holding"
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.kill()
        proc.wait()


def test_a_second_writer_stops_at_once_naming_the_holder(holder):
    proc = holder("r")
    begun = time.perf_counter()
    with pytest.raises(RunLocked, match=rf"process {proc.pid} \(holder under test"):
        with run_lock("r"):
            pass
    assert time.perf_counter() - begun < 2
    with run_lock("other"):  # another run is free
        pass


def test_readers_share_and_exclude_writers(holder):
    from tmvlib.config import run_dir

    run_dir("r")  # a reader reads a run that exists
    holder("r", mode="read")
    with run_lock("r", exclusive=False):
        pass
    with pytest.raises(RunLocked, match="tmv predict"):
        with run_lock("r"):
            pass


def test_a_killed_holder_releases_the_lock(holder):
    proc = holder("r")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with run_lock("r"):
        pass


def test_the_lock_is_reentrant_within_a_process_but_a_reader_cannot_start_writing():
    with run_lock("r"):
        with run_lock("r"), run_lock("r", exclusive=False):
            pass
    with run_lock("r", exclusive=False):
        with pytest.raises(RunLocked, match="cannot also write"):
            with run_lock("r"):
                pass


def test_tmv_chapter_on_a_locked_run_exits_with_the_lock_status(holder, capsys, monkeypatch):
    proc = holder("ci")
    monkeypatch.setitem(sys.modules, "papermill", None)  # nothing may start running
    with pytest.raises(SystemExit) as stopped:
        main(["chapter", "02", "--profile", "ci"])
    assert stopped.value.code == EXIT_LOCKED
    assert f"process {proc.pid}" in capsys.readouterr().err


def test_a_reader_of_a_missing_run_creates_nothing(artifacts):
    with pytest.raises(FileNotFoundError, match="no run 'nowhere'"):
        with run_lock("nowhere", exclusive=False):
            pass
    assert not (artifacts / "runs" / "nowhere").exists()
