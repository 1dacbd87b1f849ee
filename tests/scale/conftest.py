"""Print the scale test's figures (peak RSS per worker) in pytest's summary."""
import sys


def pytest_terminal_summary(terminalreporter):
    module = sys.modules.get("test_flat_memory")
    if module is not None and module.FIGURES:
        terminalreporter.section("scale: worker memory")
        for line in module.FIGURES:
            terminalreporter.write_line(line)
