import sys

import pytest

from tmvlib.runtime import tune_cpu_allocator


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc mallopt is Linux-only")
def test_allocator_tuning_takes_effect_once():
    assert tune_cpu_allocator() is True
    assert tune_cpu_allocator() is True  # idempotent
