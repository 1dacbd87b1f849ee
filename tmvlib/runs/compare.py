"""Compare two runs value by value: ``tmv compare RUN_A RUN_B``.

Every value of :func:`tmvlib.runs.values.run_values` (glued values, table cells, JSON and text
fields) is compared under a tolerance chosen by its key (:mod:`tmvlib.runs.tolerance`); heatmaps
elementwise with the same tolerance; other files (checkpoints, PNG, HTML) by their bytes. Each
difference names the chapter, the file or glue key, the row and column, the old and the new value.

Texts are compared as words and numbers: the words exactly, the numbers within the tolerance. A
text whose words changed passes only as a paired-difference verdict (the wordings of
:func:`tmvlib.report.wording.difference_verdict`) read on the other side of its boundary: its
interval moved within the tolerance, the old one sat within the tolerance of 0 (or its Holm p of
0.05), and the new wording is the one its own interval and p-value give
(:func:`reworded_at_boundary`).
"""
from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .tolerance import P_VALUE, Tolerance, exact
from .values import SEPARATOR, load_arrays, run_arrays, run_binaries, run_values

NUMBER = re.compile(r"(?<![\w.])[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?(?![\w.])")
ToleranceOf = Callable[[str], Tolerance]


@dataclass(frozen=True)
class Difference:
    """One value that moved beyond its tolerance, or is on one side only."""

    key: str
    old: object
    new: object
    why: str = ""

    def __str__(self) -> str:
        where = self.key.replace(SEPARATOR, " :: ")
        if self.old is _MISSING:
            return f"{where}: only in B: {self.new!r}"
        if self.new is _MISSING:
            return f"{where}: only in A: {self.old!r}"
        return f"{where}: {self.old!r} -> {self.new!r}" + (f" ({self.why})" if self.why else "")

    @property
    def chapter(self) -> str:
        """The chapter the value belongs to (the key's first part)."""
        return self.key.split(SEPARATOR, 1)[0]


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


_MISSING = _Missing()


def split_text(text: str) -> tuple[str, list[str]]:
    """A text's words with each number replaced by ``#``, and its numbers as written."""
    numbers = NUMBER.findall(text)
    return NUMBER.sub("#", text), numbers


def _unit(number: str) -> float:
    mantissa = number.lower().split("e")[0]
    if "." not in mantissa:
        return 0.0
    unit = 10.0 ** -len(mantissa.split(".")[1])
    if "e" in number.lower():
        unit *= 10.0 ** int(number.lower().split("e")[1])
    return unit


def _is_integer(number: str) -> bool:
    return "." not in number and "e" not in number.lower()


def numbers_close(old: list[str], new: list[str], tolerance: Tolerance) -> bool:
    """Whether two lists of written numbers pair up within ``tolerance``: integers exactly,
    decimals within the tolerance plus one unit of their last printed digit (exactly, when the
    tolerance is exact)."""
    if len(old) != len(new):
        return False
    for a, b in zip(old, new):
        if _is_integer(a) and _is_integer(b):
            if int(a) != int(b):
                return False
        elif not tolerance.allows(float(a), float(b), max(_unit(a), _unit(b)) if tolerance.abs or tolerance.rel else 0.0):
            return False
    return True


_NUM = r"[-+]?\d+(?:\.\d+)?"
_IV = rf"(?P<value>{_NUM}) \[(?P<low>{_NUM}), (?P<high>{_NUM})\]"
_HOLM = (r"Holm-adjusted p (?:= (?P<p>[\d.]+)|(?P<small>< 0\.001))"  # then how it is known (wording.holm_text)
         r"(?: \((?:Monte Carlo error (?:±[\d.]+|<0\.001)|normal approximation: no bootstrap draw crossed 0)\))?")
_POWER = r"(?:; this sample detects differences of about [\d.]+ or more)?"
PRINTED_ZERO = 0.0006  # a bound this close to 0 prints as (+/-)0.000 with 3 decimals
# The three wordings of tmvlib.report.wording.difference_verdict, each with its interval.
VERDICT_FORMS = {
    "no measurable difference": re.compile(
        rf"no measurable difference in [^()]*? between [^()]*? \({_IV}{_POWER}(?:; {_HOLM})?\)"),
    "no difference that survives the Holm correction": re.compile(
        rf"no difference in [^()]*? that survives the Holm correction \({_IV}: the interval excludes 0, "
        rf"but {_HOLM}{_POWER}\)"),
    "a higher or lower": re.compile(
        rf"has a (?P<direction>higher|lower) [^()]*? than [^()]*? \((?:better|worse)\): [^=;]*? = {_IV}"
        rf"(?:; {_HOLM})?"),
}


@dataclass(frozen=True)
class Verdict:
    """One paired-difference verdict found in a text: its wording and the interval it reads."""

    form: str
    low: float
    high: float
    p: float | None
    higher: bool | None

    def consistent(self, alpha: float = 0.05) -> bool:
        """Whether the wording is the one the interval (and Holm p) gives, as
        :func:`tmvlib.report.wording.difference_verdict` words it."""
        if min(abs(self.low), abs(self.high)) < PRINTED_ZERO:
            return True  # a bound printed as 0.000 could be on either side: both wordings are right
        includes = self.low <= 0.0 <= self.high
        if self.form == "no measurable difference":
            return includes
        if self.form == "no difference that survives the Holm correction":
            return (not includes) and self.p is not None and self.p >= alpha
        return (not includes) and (self.low > 0) == self.higher and (self.p is None or self.p < alpha)

    def borderline(self, tolerance: Tolerance, alpha: float = 0.05) -> bool:
        """Whether the float noise of ``tolerance`` could move it across its boundary: an interval
        bound within the tolerance (and a printed digit) of 0, or its Holm p of ``alpha``."""
        near_zero = min(abs(self.low), abs(self.high)) <= tolerance.abs + tolerance.rel + 0.001
        near_alpha = self.p is not None and abs(self.p - alpha) <= P_VALUE.abs + 0.001
        return near_zero or near_alpha


def verdicts(text: str) -> list[Verdict]:
    """Every paired-difference verdict in ``text``, in order of appearance."""
    found = []
    for form, pattern in VERDICT_FORMS.items():
        for match in pattern.finditer(text):
            p = match.group("p") if "p" in pattern.groupindex else None
            small = match.group("small") if "small" in pattern.groupindex else None
            direction = match.group("direction") if "direction" in pattern.groupindex else None
            found.append((match.start(), Verdict(form, float(match.group("low")), float(match.group("high")),
                                                 0.0 if small else (float(p) if p else None),
                                                 None if direction is None else direction == "higher")))
    return [v for _, v in sorted(found, key=lambda item: item[0])]


def verdict_consistent(text: str, alpha: float = 0.05) -> bool | None:
    """Whether every paired-difference verdict in ``text`` is worded as its own interval (and Holm
    p-value) gives; None when ``text`` holds no such verdict."""
    found = verdicts(text)
    return all(v.consistent(alpha) for v in found) if found else None


def reworded_at_boundary(old: str, new: str, tolerance: Tolerance) -> bool:
    """Whether a text whose words changed is the same evidence read across its boundary: both
    hold paired verdicts, as many, each old one borderline under ``tolerance`` where the wording
    changed, and every new one worded as its own interval gives."""
    before, after = verdicts(old), verdicts(new)
    if not before or len(before) != len(after):
        return False
    for a, b in zip(before, after):
        if not b.consistent():
            return False
        if a.form != b.form and not a.borderline(tolerance):
            return False
        if not (tolerance.allows(a.low, b.low, 0.001) and tolerance.allows(a.high, b.high, 0.001)):
            return False
    return True


def compare_value(key: str, old, new, tolerance: Tolerance) -> Difference | None:
    """The difference between a reference value and a new one under ``tolerance``, or None."""
    if tolerance.ignored:
        return None
    if old is None or new is None:
        return None if old is None and new is None else Difference(key, old, new)
    if isinstance(old, bool) or isinstance(new, bool):
        return None if old == new else Difference(key, old, new)
    if isinstance(old, (int, float)) and isinstance(new, (int, float)):
        if isinstance(old, int) and isinstance(new, int):
            return None if old == new else Difference(key, old, new, "a count or id: exact")
        if math.isinf(old) or math.isinf(new):
            return None if old == new else Difference(key, old, new)
        if tolerance.allows(float(old), float(new)):
            return None
        return Difference(key, old, new, f"moved {new - old:+.3g}; {tolerance.kind} allows "
                                         f"{tolerance.abs:g} + {tolerance.rel:g}*|ref|")
    if isinstance(old, str) and isinstance(new, str):
        if old == new:
            return None
        old_words, old_numbers = split_text(old)
        new_words, new_numbers = split_text(new)
        close = numbers_close(old_numbers, new_numbers, tolerance)
        if old_words == new_words:
            return None if close else Difference(key, old, new, f"a number moved beyond {tolerance.kind}")
        if reworded_at_boundary(old, new, tolerance):
            return None  # the same evidence read on the other side of its boundary, worded as its rule says
        return Difference(key, old, new, "the words changed")
    return None if str(old) == str(new) else Difference(key, old, new, "types differ")


def _pairs(old: Mapping, new: Mapping, tolerance_of: ToleranceOf, out: list[Difference]):
    """``(key, tolerance)`` of every key on both sides that its tolerance does not ignore, in key
    order; a key on one side only is appended to ``out`` as a difference."""
    for key in sorted(set(old) | set(new)):
        tolerance = tolerance_of(key)
        if tolerance.ignored:
            continue
        if key not in new or key not in old:
            out.append(Difference(key, old.get(key, _MISSING), new.get(key, _MISSING)))
        else:
            yield key, tolerance


def compare_values(old: Mapping[str, object], new: Mapping[str, object],
                   tolerance_of: ToleranceOf = exact) -> list[Difference]:
    """Every difference between two ``{key: value}`` maps, sorted by key (a key on one side only
    is a difference unless its tolerance ignores it)."""
    out: list[Difference] = []
    for key, tolerance in _pairs(old, new, tolerance_of, out):
        found = compare_value(key, old[key], new[key], tolerance)
        if found:
            out.append(found)
    return sorted(out, key=lambda d: d.key)


@dataclass(frozen=True)
class Spread:
    """The largest move of one kind of quantity between two runs: ``|new - old|`` and where, and
    how many texts changed their words."""

    kind: str
    largest: float
    key: str
    compared: int
    reworded: int


def spreads(old: Mapping[str, object], new: Mapping[str, object],
            tolerance_of: ToleranceOf) -> list[Spread]:
    """Per kind of ``tolerance_of``, the largest move of a float (or of a decimal written in a
    text whose words did not change) between two ``{key: value}`` maps, ignoring volatile keys:
    the measurement that sizes each kind's tolerance."""
    found: dict[str, list] = {}
    for key in sorted(set(old) & set(new)):
        tolerance = tolerance_of(key)
        if tolerance.ignored:
            continue
        a, b = old[key], new[key]
        entry = found.setdefault(tolerance.kind, [0.0, "", 0, 0])
        pairs: list[tuple[float, float]] = []
        if isinstance(a, float) and isinstance(b, float):
            pairs = [(a, b)]
        elif isinstance(a, str) and isinstance(b, str) and a != b:
            (wa, na), (wb, nb) = split_text(a), split_text(b)
            if wa != wb or len(na) != len(nb):
                entry[3] += 1
                continue
            pairs = [(float(x), float(y)) for x, y in zip(na, nb) if not (_is_integer(x) and _is_integer(y))]
        for x, y in pairs:
            entry[2] += 1
            if math.isfinite(x) and math.isfinite(y) and abs(y - x) > entry[0]:
                entry[0], entry[1] = abs(y - x), key
    return [Spread(kind, v[0], v[1], v[2], v[3]) for kind, v in sorted(found.items())]


def compare_arrays(old: Mapping[str, Path], new: Mapping[str, Path],
                   tolerance_of: ToleranceOf = exact) -> list[Difference]:
    """Heatmap files compared elementwise (shape exactly, values within the tolerance)."""
    out: list[Difference] = []
    for key, tolerance in _pairs(old, new, tolerance_of, out):
        a, b = load_arrays(old[key]), load_arrays(new[key])
        if sorted(a) != sorted(b):
            out.append(Difference(key, sorted(a), sorted(b), "array names differ"))
            continue
        for name in a:
            x, y = a[name], b[name]
            label = key + (f"[{name}]" if name else "")
            if x.shape != y.shape:
                out.append(Difference(label, x.shape, y.shape, "shapes differ"))
                continue
            x64, y64 = x.astype(np.float64), y.astype(np.float64)
            bad = ~((np.isnan(x64) & np.isnan(y64))
                    | (np.abs(x64 - y64) <= tolerance.abs + tolerance.rel * np.abs(x64)))
            if bad.any():
                where = tuple(int(i) for i in np.argwhere(bad)[0])
                out.append(Difference(label, float(x64[where]), float(y64[where]),
                                      f"{int(bad.sum())} of {bad.size} elements differ, first at {where}"))
    return out


def sha256(path: Path) -> str:
    """The file's sha256."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def compare_binaries(old: Mapping[str, Path], new: Mapping[str, Path],
                     tolerance_of: ToleranceOf = exact) -> list[Difference]:
    """Other files (images, HTML) compared by their bytes."""
    out: list[Difference] = []
    for key, _ in _pairs(old, new, tolerance_of, out):
        if sha256(old[key]) != sha256(new[key]):
            out.append(Difference(key, "sha256 " + sha256(old[key])[:12], "sha256 " + sha256(new[key])[:12],
                                  "the bytes differ"))
    return out


@dataclass
class RunComparison:
    """What :func:`compare_runs` found: the differences and how much it compared."""

    differences: list[Difference]
    values: int
    arrays: int
    binaries: int

    @property
    def identical(self) -> bool:
        """No difference beyond the tolerances."""
        return not self.differences

    def summary(self) -> str:
        """One line: what was compared, how many differences, by chapter."""
        by_chapter: dict[str, int] = {}
        for d in self.differences:
            by_chapter[d.chapter] = by_chapter.get(d.chapter, 0) + 1
        chapters = ", ".join(f"{c} {n}" for c, n in sorted(by_chapter.items()))
        return (f"compared {self.values} values, {self.arrays} heatmap files and {self.binaries} other "
                f"files: {len(self.differences)} difference(s)" + (f" ({chapters})" if chapters else ""))


def compare_runs(run_a: str | Path, run_b: str | Path, splits_a: str | Path | None = None,
                 splits_b: str | Path | None = None,
                 tolerance_of: ToleranceOf = exact, binaries: bool = True) -> RunComparison:
    """Compare two run folders (``artifacts/runs/<run_id>``; with their splits folders when given):
    values, heatmaps and, when ``binaries``, the other files' bytes."""
    values_a, values_b = run_values(run_a, splits_a), run_values(run_b, splits_b)
    arrays_a, arrays_b = run_arrays(run_a), run_arrays(run_b)
    differences = compare_values(values_a, values_b, tolerance_of)
    differences += compare_arrays(arrays_a, arrays_b, tolerance_of)
    files_a, files_b = (run_binaries(run_a), run_binaries(run_b)) if binaries else ({}, {})
    differences += compare_binaries(files_a, files_b, tolerance_of)
    return RunComparison(sorted(differences, key=lambda d: d.key), len(set(values_a) | set(values_b)),
                         len(set(arrays_a) | set(arrays_b)), len(set(files_a) | set(files_b)))
