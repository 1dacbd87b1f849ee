"""Parameters, project paths, run folders and fingerprints.

A chapter's parameters are declared, typed and documented in ``tmvlib/contracts/`` and set in
``params/default/<NN_name>.yaml`` (every parameter) and ``params/<profile>/<NN_name>.yaml`` (what
a profile changes); papermill injects the resolved, validated params into the notebook. Each
chapter records what it ran with (resolved params, package versions, git commit, data manifest
hashes) in ``artifacts/runs/<run_id>/config.yaml``, so that a number in the book can be traced
back to the exact inputs that produced it.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from .atomic import atomic_write_text
from .contracts import DeclaredParams, resolve_params
from .fingerprint import git_commit, package_versions

CHAPTER_ORDER = (
    "00_sanity_check",
    "01_data",
    "02_baseline",
    "03_uncertainty",
    "04_gradcam",
    "05_scorecam",
    "06_stability",
    "07_trust_failures",
    "08_trust_card",
    "09_replication",
)

# Profiles whose runs are references (the numeric regression of tests/notebooks/test_regression.py)
# compute with a fixed number of torch threads: training reduces in another order on another
# number of threads, and the ci book's trained weights then differ by up to 0.02 (measured there).
PROFILE_ENVIRONMENT: dict[str, dict[str, str]] = {"ci": {"OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2"}}


def profile_environment(profile: str) -> dict[str, str]:
    """Environment variables a chapter kernel of ``profile`` runs with (:data:`PROFILE_ENVIRONMENT`)."""
    return dict(PROFILE_ENVIRONMENT.get(profile, {}))


def _is_project(folder: Path) -> bool:
    return (folder / "_toc.yml").is_file() and (folder / "params").is_dir()


def find_project_root(start: str | Path | None = None) -> tuple[Path, str]:
    """The project folder (holding ``_toc.yml`` and ``params/``) and how it was found, in order:
    ``TMV_ROOT``; the first such folder upwards from ``start`` or the cwd; the checkout this
    ``tmvlib`` is installed from (``pip install -e``), so ``tmv`` works from any folder; else the
    cwd itself (``"not found"``), so ``tmvlib`` stays usable as a plain library."""
    if os.environ.get("TMV_ROOT"):
        return Path(os.environ["TMV_ROOT"]).resolve(), "TMV_ROOT"
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if _is_project(folder):
            return folder, f"found upwards from {here}"
    installed = Path(__file__).resolve().parents[1]
    if _is_project(installed):
        return installed, f"the checkout tmvlib is installed from (none upwards from {here})"
    return here, f"not found (no _toc.yml upwards from {here}, nor beside the installed tmvlib)"


def project_root(start: str | Path | None = None) -> Path:
    """The project folder of :func:`find_project_root`."""
    return find_project_root(start)[0]


def artifacts_dir(root: str | Path | None = None) -> Path:
    """``TMV_ARTIFACTS`` if set, else ``<project root>/artifacts``."""
    if os.environ.get("TMV_ARTIFACTS"):
        return Path(os.environ["TMV_ARTIFACTS"]).resolve()
    return project_root(root) / "artifacts"


def run_dir(run_id: str, root: str | Path | None = None) -> Path:
    """``artifacts/runs/<run_id>/`` with its standard sub-folders, created if missing."""
    path = artifacts_dir(root) / "runs" / run_id
    for sub in ("checkpoints", "metrics", "explanations", "failure_cases"):
        (path / sub).mkdir(parents=True, exist_ok=True)
    return path


def splits_dir(run_id: str, root: str | Path | None = None) -> Path:
    """``artifacts/splits/<run_id>/``, created if missing."""
    path = artifacts_dir(root) / "splits" / run_id
    path.mkdir(parents=True, exist_ok=True)
    return path


def resolve_data_root(data_root: str | Path | None = None, root: str | Path | None = None) -> Path:
    """Where the prepared data lives, first match wins.

    1. the ``data_root`` param, 2. ``TMV_DATA``, 3. ``../shared/data`` beside the checkout,
    4. ``data/`` inside the checkout (what ``make data`` writes).
    """
    candidates: list[tuple[str, Path]] = []
    if data_root:
        candidates.append(("param data_root", Path(data_root)))
    if os.environ.get("TMV_DATA"):
        candidates.append(("TMV_DATA", Path(os.environ["TMV_DATA"])))
    proj = project_root(root)
    candidates += [("beside the checkout", proj.parent / "shared" / "data"),
                   ("inside the checkout", proj / "data")]
    for source, path in candidates:
        if path.is_dir():
            return path.resolve()
        if source in ("param data_root", "TMV_DATA"):
            raise FileNotFoundError(f"data folder from {source} does not exist: {path}")
    tried = ", ".join(str(p) for _, p in candidates)
    raise FileNotFoundError(
        f"no prepared data found (tried {tried}); set TMV_DATA or run `make data` "
        "(download + prepare, see README)"
    )


def load_params(chapter: str, profile: str = "default", overrides: dict | None = None,
                root: str | Path | None = None) -> dict[str, Any]:
    """The chapter's full params for ``profile``, validated against its contract, ``overrides`` last.

    Delegates to :func:`tmvlib.contracts.resolve_params` (defaults <- ``params/default`` <-
    ``params/<profile>`` <- overrides); an unknown key or a wrong type raises
    ``tmvlib.contracts.ParamsError`` naming the key, the file and the closest valid key.
    """
    return resolve_params(chapter, profile, overrides, project_root(root))


def record_run(run_id: str, chapter: str, params: dict, data_hashes: dict[str, str] | None = None,
               root: str | Path | None = None) -> list[str]:
    """Write this chapter's resolved params and fingerprints into the run's ``config.yaml``.

    ``tmv chapter`` calls this after the chapter ran, with the params papermill injected.
    ``data_hashes`` (dataset -> manifest sha256) default to what the chapter recorded with
    :func:`record_data` while it ran. Returns the later chapters already recorded in this run:
    they were computed from the previous artifacts of this chapter and are now stale until rerun.
    """
    path = run_dir(run_id, root) / "config.yaml"
    config = _read_config(path)
    previous = config.get(chapter) or {}
    config[chapter] = {
        "params": params,
        "versions": package_versions(),
        "git_commit": git_commit(project_root(root)),
        "data_manifests": previous.get("data_manifests", {}) if data_hashes is None else data_hashes,
    }
    atomic_write_text(path, yaml.safe_dump(config, sort_keys=True))
    return later_chapters_recorded(run_id, chapter, root)


def record_data(run_id: str, chapter: str, data_hashes: dict[str, str],
                root: str | Path | None = None) -> None:
    """Record the data manifests a chapter read (dataset -> manifest sha256); its params are
    recorded by ``tmv chapter`` when it has run (:func:`record_run`)."""
    path = run_dir(run_id, root) / "config.yaml"
    config = _read_config(path)
    config.setdefault(chapter, {})["data_manifests"] = dict(data_hashes)
    atomic_write_text(path, yaml.safe_dump(config, sort_keys=True))


def forget_chapter(run_id: str, chapter: str, root: str | Path | None = None) -> None:
    """Drop a chapter's record before it reruns: until it has finished, its artifacts are not
    those of any recorded params."""
    path = artifacts_dir(root) / "runs" / run_id / "config.yaml"
    config = _read_config(path)
    if config.pop(chapter, None) is not None:
        atomic_write_text(path, yaml.safe_dump(config, sort_keys=True))


def _read_config(path: Path) -> dict:
    """A run's ``config.yaml`` as a dict (empty when absent)."""
    return (yaml.safe_load(path.read_text()) or {}) if path.is_file() else {}


def later_chapters_recorded(run_id: str, chapter: str, root: str | Path | None = None) -> list[str]:
    """Chapters after ``chapter`` that this run has already recorded (stale once it reruns)."""
    config = _read_config(artifacts_dir(root) / "runs" / run_id / "config.yaml")
    position = CHAPTER_ORDER.index(chapter) if chapter in CHAPTER_ORDER else len(CHAPTER_ORDER)
    return [name for name in CHAPTER_ORDER[position + 1:] if name in config]


def chapter_params(run_id: str, chapter: str, root: str | Path | None = None) -> dict[str, Any]:
    """The params an earlier chapter recorded for this run (raises if it has not run)."""
    path = artifacts_dir(root) / "runs" / run_id / "config.yaml"
    config = _read_config(path)
    if chapter not in config:
        raise FileNotFoundError(f"chapter {chapter} has not run for run {run_id!r} ({path}); "
                                f"run it first (make chapter CH={chapter[:2]})")
    return config[chapter]["params"]


def declared_params(run_id: str, reader: str, source: str, root: str | Path | None = None) -> dict[str, Any]:
    """The params ``source`` recorded for this run, limited to what ``reader`` declares it reads.

    ``reader``'s contract (``READS_PARAMS[source]`` in ``tmvlib/contracts/``) must name the keys;
    reading any other key raises a KeyError that says where to declare it. Raises like
    :func:`chapter_params` when ``source`` has not run.
    """
    return DeclaredParams(reader, source, chapter_params(run_id, source, root))
