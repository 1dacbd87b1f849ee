"""One declared contract per chapter: its typed parameters and what it reads from earlier chapters.

Each ``chNN_<name>.py`` module defines a frozen dataclass ``Params`` (every parameter with its
type, default and meaning), ``READS_PARAMS`` (the recorded params of earlier chapters it reads)
and ``READS_CHAPTERS`` (earlier chapters that must have run: their files or params are read).

A chapter's params resolve in layers, each validated against ``Params`` (an unknown key or a
value of the wrong type raises :class:`ParamsError` naming the key, the file and the closest
valid key)::

    Params defaults <- params/default/<chapter>.yaml <- params/<profile>/<chapter>.yaml <- -p overrides

``params/default/*.yaml`` list every parameter (the user-facing list); the other profiles hold
only what they change. This package is a foundation layer: standard library and yaml only, so
that ``tmvlib.config`` (``load_params``, ``declared_params``) builds on it without a cycle.
"""
from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, get_type_hints

import yaml

from . import (ch00_sanity_check, ch01_data, ch02_baseline, ch03_uncertainty, ch04_gradcam,
               ch05_scorecam, ch06_stability, ch07_trust_failures, ch08_trust_card, ch09_replication)
from .base import Mismatch, ParamsError, conform, type_label

__all__ = ["CONTRACTS", "ChapterContract", "DeclaredParams", "ParamsError", "UndeclaredParam",
           "contract", "declared_keys", "params_root", "resolve_params", "validate_params"]


@dataclass(frozen=True)
class ChapterContract:
    """A chapter's declared contract: ``params`` (its ``Params`` dataclass), ``reads_params``
    (source chapter -> keys of its recorded params read) and ``reads_chapters``."""

    name: str
    params: type
    reads_params: Mapping[str, tuple[str, ...]]
    reads_chapters: tuple[str, ...]

    def defaults(self) -> dict[str, Any]:
        """Every parameter with its default, in declaration order (fresh lists and dicts)."""
        return asdict(self.params())

    def types(self) -> dict[str, Any]:
        """Parameter name -> its type."""
        return get_type_hints(self.params)

    def docs(self) -> dict[str, str]:
        """Parameter name -> its one-line meaning."""
        return {f.name: f.metadata.get("doc", "") for f in fields(self.params)}

    def values(self, namespace: Mapping[str, Any]) -> dict[str, Any]:
        """This chapter's parameters as a running notebook holds them (``values(globals())``
        after papermill injected them): every declared name, in declaration order, so that a
        notebook never lists its parameters by hand. A missing name raises KeyError."""
        return {name: namespace[name] for name in self.defaults()}


CONTRACTS: dict[str, ChapterContract] = {
    module.CHAPTER: ChapterContract(module.CHAPTER, module.Params, module.READS_PARAMS,
                                    module.READS_CHAPTERS)
    for module in (ch00_sanity_check, ch01_data, ch02_baseline, ch03_uncertainty, ch04_gradcam,
                   ch05_scorecam, ch06_stability, ch07_trust_failures, ch08_trust_card, ch09_replication)
}


def _closest(word: str, choices: list[str]) -> str:
    """``"; did you mean 'x'?"`` for the closest choice (difflib) and the choices ``word`` is a
    prefix of (``tta_cont`` -> ``tta_count`` or ``tta_contrast``), else the valid choices."""
    close = difflib.get_close_matches(word, choices, n=1)
    close += [c for c in choices if len(word) >= 3 and c.startswith(word) and c not in close]
    if not close:
        return f"; valid: {', '.join(choices)}"
    names = [repr(c) for c in close[:3]]
    listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"
    return f"; did you mean {listed}?"


def contract(chapter: str) -> ChapterContract:
    """The contract of ``chapter`` (``"06_stability"``); ParamsError for an unknown chapter."""
    if chapter not in CONTRACTS:
        raise ParamsError(f"no contract for chapter {chapter!r}{_closest(chapter, list(CONTRACTS))}")
    return CONTRACTS[chapter]


def validate_params(chapter: str, layer: Mapping[str, Any], source: str) -> dict[str, Any]:
    """Check one layer of params (a YAML file's content or the overrides) against the contract.

    Returns the layer with each value as it will be injected (see ``base.conform``). ``source``
    names the layer in messages: ``params/ci/06_stability.yaml`` or ``override -p``.
    """
    spec = contract(chapter)
    types = spec.types()
    checked = {}
    for key, value in layer.items():
        if key not in types:
            raise ParamsError(f"{source}: unknown parameter {key!r} for {chapter}"
                              f"{_closest(str(key), list(types))}")
        try:
            checked[key] = conform(value, types[key])
        except Mismatch:
            raise ParamsError(f"{source}: parameter {key!r} of {chapter} expects "
                              f"{type_label(types[key])}, got {value!r} "
                              f"({type(value).__name__})") from None
    return checked


def _read_layer(path: Path, root: Path) -> tuple[dict[str, Any], str]:
    """A params file's mapping (empty for an empty file) and its name relative to ``root``."""
    try:
        source = str(path.relative_to(root))
    except ValueError:
        source = str(path)
    data = yaml.safe_load(path.read_text())
    if data is None:
        return {}, source
    if not isinstance(data, dict):
        raise ParamsError(f"{source}: expected a mapping of parameter: value, got {type(data).__name__}")
    return data, source


def params_root(root: str | Path | None = None) -> Path:
    """The project folder holding ``params/``: ``root`` if given, else ``TMV_ROOT``, else the
    nearest of the cwd and its parents with ``params/default`` (as ``config.project_root`` finds
    it in a checkout; ``config.load_params`` passes that root)."""
    if root is not None:
        return Path(root).resolve()
    if os.environ.get("TMV_ROOT"):
        return Path(os.environ["TMV_ROOT"]).resolve()
    here = Path.cwd().resolve()
    return next((f for f in (here, *here.parents) if (f / "params" / "default").is_dir()), here)


def resolve_params(chapter: str, profile: str = "default", overrides: Mapping[str, Any] | None = None,
                   root: str | Path | None = None) -> dict[str, Any]:
    """The params papermill injects into ``chapter``: every parameter, validated.

    Layers, later wins: the ``Params`` defaults, ``params/default/<chapter>.yaml`` (when present),
    ``params/<profile>/<chapter>.yaml`` (must exist) and ``overrides``. Keys keep the declaration
    order. Raises ParamsError (unknown key, wrong type) or FileNotFoundError (no profile file).
    """
    root = params_root(root)
    spec = contract(chapter)
    folder = root / "params"
    path = folder / profile / f"{chapter}.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"no params file {path} (profile {profile!r}, chapter {chapter!r})")
    params = spec.defaults()
    files = [folder / "default" / f"{chapter}.yaml"] + ([path] if profile != "default" else [])
    for layer_path in files:
        if layer_path.is_file():
            layer, source = _read_layer(layer_path, root)
            params.update(validate_params(chapter, layer, source))
    params.update(validate_params(chapter, dict(overrides or {}), "override -p"))
    return params


def declared_keys(reader: str, source: str) -> tuple[str, ...]:
    """The keys of ``source``'s recorded params that ``reader`` declares in ``READS_PARAMS``;
    ParamsError when it declares none of them."""
    declared = contract(reader).reads_params
    if source not in declared:
        raise ParamsError(f"{reader} reads no params of {source}: add "
                          f"READS_PARAMS[{source!r}] in tmvlib/contracts/ to declare them")
    return declared[source]


class UndeclaredParam(KeyError):
    """A key read outside a chapter's ``READS_PARAMS``, or declared but not recorded."""

    def __str__(self) -> str:
        return str(self.args[0])


class DeclaredParams(dict):
    """The part of a chapter's recorded params another chapter declared it reads.

    Reading a key outside the declaration (``[key]`` or ``.get``) raises UndeclaredParam (a
    KeyError) that says where to declare it, instead of silently depending on it.
    """

    def __init__(self, reader: str, source: str, recorded: Mapping[str, Any]):
        keys = declared_keys(reader, source)
        super().__init__({k: recorded[k] for k in keys if k in recorded})
        self.reader, self.source, self.declared = reader, source, keys

    def __missing__(self, key: str) -> Any:
        if key in self.declared:
            raise UndeclaredParam(f"{self.source} did not record {key!r} in this run; "
                                  f"rerun {self.source}")
        raise UndeclaredParam(f"{self.reader} reads {key!r} of {self.source} without declaring it: "
                              f"add it to READS_PARAMS[{self.source!r}] in tmvlib/contracts/")

    def get(self, key: str, default: Any = None) -> Any:
        """Like ``dict.get`` for declared keys; an undeclared key raises (see class doc)."""
        if key not in self.declared:
            self.__missing__(key)
        return super().get(key, default)
