import sys

import pytest

from tmvlib import runtime


class FakeLibc:
    """Records mallopt calls; returns ``result`` (glibc returns 1 on success, 0 on error)."""

    def __init__(self, result: int):
        self.result, self.calls = result, []

    def mallopt(self, param, value):
        self.calls.append((param, value))
        return self.result


@pytest.mark.parametrize("result, tuned", [(1, True), (0, False)])
def test_allocator_thresholds_are_set_once_and_failure_reported(monkeypatch, result, tuned):
    libc = FakeLibc(result)
    monkeypatch.setattr(runtime, "_tuned", None)
    monkeypatch.setattr(runtime.sys, "platform", "linux")
    monkeypatch.setattr(runtime.ctypes, "CDLL", lambda name: libc)
    assert runtime.tune_cpu_allocator(mmap_threshold=123, trim_threshold=456) is tuned
    assert libc.calls[0] == (runtime._M_MMAP_THRESHOLD, 123)
    if tuned:
        assert libc.calls[1] == (runtime._M_TRIM_THRESHOLD, 456)
    calls = len(libc.calls)
    assert runtime.tune_cpu_allocator() is tuned and len(libc.calls) == calls  # once per process


def test_allocator_tuning_is_a_no_op_off_linux(monkeypatch):
    monkeypatch.setattr(runtime, "_tuned", None)
    monkeypatch.setattr(runtime.sys, "platform", "darwin")
    assert runtime.tune_cpu_allocator() is False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc mallopt is Linux-only")
def test_allocator_tuning_takes_effect_on_this_linux(monkeypatch):
    monkeypatch.setattr(runtime, "_tuned", None)
    assert runtime.tune_cpu_allocator() is True
