"""Building blocks of the chapter contracts: a documented parameter field, the error a parameter
that does not fit raises, and the small type checker behind it.

The checker keeps a value exactly as YAML gave it (an int stays an int in a float field), so
papermill injects what it injected before the contracts existed. One exception: PyYAML reads
``1e-3`` (no dot) as a string; in a float field such a string is read as the number it spells.
"""
from __future__ import annotations

import copy
import re
import types
from dataclasses import field
from typing import Any, Literal, Union, get_args, get_origin

RUN_ID = "artifacts/runs/<run_id>/ and artifacts/splits/<run_id>/: the run this chapter reads and writes"
SEED = "random seed of this chapter"
N_BOOT = "patient-level bootstrap resamples of the confidence intervals"
EXECUTOR = ('where per-image stages run: "local" (this process), "ray" (RAY_ADDRESS\'s cluster or a local Ray), '
            '"auto" ("ray" when RAY_ADDRESS is set); the numbers do not depend on it')
SHARD_SIZE = "images per shard of a per-image stage (unit of work, retry and resumption)"

_FLOAT_TEXT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


class ParamsError(ValueError):
    """A parameter file or ``-p`` override that does not fit a chapter's contract; the message
    names the key, where it came from and, for an unknown key, the closest valid one."""


class Mismatch(Exception):
    """Internal: a value does not fit a type."""


def param(default: Any, doc: str) -> Any:
    """A dataclass field with ``default`` (lists and dicts copied per instance) and its ``doc``."""
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: copy.deepcopy(default), metadata={"doc": doc})
    return field(default=default, metadata={"doc": doc})


def conform(value: Any, hint: Any) -> Any:
    """``value`` as it will be injected if it fits the type ``hint``; raises Mismatch otherwise.

    Understood: str, int, float (an int is kept as an int), bool, None, ``X | None``,
    ``Literal[...]``, ``list[X]``, ``tuple[X, ...]`` (a YAML list, kept a list), ``dict[K, V]``, Any.
    """
    origin, args = get_origin(hint), get_args(hint)
    if hint is Any:
        return value
    if origin in (Union, types.UnionType):
        for option in args:
            try:
                return conform(value, option)
            except Mismatch:
                pass
        raise Mismatch
    if origin is Literal:
        if any(value == a and type(value) is type(a) for a in args):
            return value
        raise Mismatch
    if hint is type(None):
        if value is None:
            return value
        raise Mismatch
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise Mismatch
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise Mismatch
    if hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and _FLOAT_TEXT.fullmatch(value.strip()):
            return float(value)
        raise Mismatch
    if hint is str:
        if isinstance(value, str):
            return value
        raise Mismatch
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise Mismatch
        item = args[0] if args else Any
        return [conform(v, item) for v in value]
    if origin is dict:
        if not isinstance(value, dict):
            raise Mismatch
        key, item = args if args else (Any, Any)
        return {conform(k, key): conform(v, item) for k, v in value.items()}
    raise TypeError(f"the contract checker does not understand the type {hint!r}")


def type_label(hint: Any) -> str:
    """A reader's name for a type: ``float``, ``int or null``, ``list of str``, ``one of 'a', 'b'``."""
    origin, args = get_origin(hint), get_args(hint)
    if origin in (Union, types.UnionType):
        return " or ".join(type_label(a) for a in args)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if hint is type(None):
        return "null"
    if origin in (list, tuple):
        return f"list of {type_label(args[0])}" if args else "list"
    if origin is dict:
        return f"mapping of {type_label(args[0])} to {type_label(args[1])}" if args else "mapping"
    return getattr(hint, "__name__", str(hint))
