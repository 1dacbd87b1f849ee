"""Checkpoints that carry their config and a sha256, so a rerun reuses or refuses them knowingly.

``<name>.pt`` holds the state dict (loaded with ``torch.load(weights_only=True)``: no pickle
code runs); ``<name>.json`` holds the training config, its hash, the file's sha256 and any
extra record (training history, weights provenance).
"""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..atomic import atomic_write, atomic_write_text
from ..fingerprint import sha256_file


class CheckpointMismatch(RuntimeError):
    """A checkpoint exists but was made with another config, or its bytes changed."""


def config_hash(config: dict[str, Any]) -> str:
    """sha256 of the config as canonical JSON (key order does not matter)."""
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()


def save_checkpoint(model: nn.Module, path: str | Path, config: dict[str, Any],
                    record: dict[str, Any] | None = None) -> str:
    """Write ``path`` (state dict) and ``path.with_suffix('.json')``; returns the file's sha256."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    # the record is removed first and written last: a checkpoint without its record is never reused
    path.with_suffix(".json").unlink(missing_ok=True)
    atomic_write(path, lambda tmp: torch.save(state, tmp))
    digest = sha256_file(path)
    meta = {"config": config, "config_hash": config_hash(config), "sha256": digest,
            "record": record or {}}
    atomic_write_text(path.with_suffix(".json"), json.dumps(meta, indent=2, sort_keys=True, default=str))
    return digest


def read_checkpoint_meta(path: str | Path) -> dict[str, Any]:
    """The JSON record beside a checkpoint; raises naming the file if it is missing or broken."""
    meta_path = Path(path).with_suffix(".json")
    if not meta_path.is_file():
        raise FileNotFoundError(f"checkpoint record {meta_path} is missing")
    try:
        return json.loads(meta_path.read_text())
    except json.JSONDecodeError as err:
        raise CheckpointMismatch(f"checkpoint record {meta_path} is not valid JSON: {err}") from err


def load_checkpoint(model: nn.Module, path: str | Path,
                    expected_config: dict[str, Any] | None = None) -> dict[str, Any]:
    """Load weights into ``model`` after checking sha256 and (optionally) the config.

    Returns:
        the checkpoint's JSON record.

    Raises:
        FileNotFoundError: the checkpoint or its record is missing (names the file).
        CheckpointMismatch: hash or config differ (names the file and the differing keys).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} not found")
    meta = read_checkpoint_meta(path)
    actual = sha256_file(path)
    if actual != meta.get("sha256"):
        raise CheckpointMismatch(f"checkpoint {path} has sha256 {actual[:12]}…, its record says "
                                 f"{str(meta.get('sha256'))[:12]}…: the file was changed or is corrupt")
    if expected_config is not None and config_hash(expected_config) != meta.get("config_hash"):
        stored = meta.get("config", {})
        keys = sorted(k for k in set(stored) | set(expected_config)
                      if stored.get(k) != expected_config.get(k))
        raise CheckpointMismatch(f"checkpoint {path} was trained with another config; "
                                 f"differing keys: {keys}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several types for truncated or foreign files
        raise CheckpointMismatch(f"checkpoint {path} cannot be read: {err}") from err
    model.load_state_dict(state)
    return meta


def reusable_checkpoint(path: str | Path, config: dict[str, Any]) -> bool:
    """True when ``path`` exists and was made with exactly ``config`` (hash checked on load)."""
    path = Path(path)
    if not (path.is_file() and path.with_suffix(".json").is_file()):
        return False
    return read_checkpoint_meta(path).get("config_hash") == config_hash(config)


def copy_checkpoint(source: str | Path, target: str | Path) -> None:
    """Copy a checkpoint and its record to ``target`` (the record removed first and written last, as
    :func:`save_checkpoint` does): the same model under another name, e.g. the deployed fold
    model, which is chapter 02's baseline under ``split_source: folds``."""
    source, target = Path(source), Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.with_suffix(".json").unlink(missing_ok=True)
    atomic_write(target, lambda tmp: shutil.copyfile(source, tmp))
    atomic_write_text(target.with_suffix(".json"), source.with_suffix(".json").read_text())
