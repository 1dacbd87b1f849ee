"""Fingerprints of what produced a result: package versions, git commit, hardware, data files."""
from __future__ import annotations

import hashlib
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

import pandas as pd

_REPORTED_PACKAGES = (
    "torch", "torchvision", "timm", "captum", "numpy", "pandas", "scikit-learn", "scipy",
    "altair", "papermill", "jupyter-book", "myst-nb", "pillow",
)


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def git_commit(root: str | Path | None = None) -> str:
    """Current commit (with ``-dirty`` when the tree has changes), or ``"unknown"`` outside git."""
    cwd = Path(root) if root else Path.cwd()
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True,
                             text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return sha + ("-dirty" if dirty else "")


def package_versions() -> dict[str, str]:
    """Installed versions of the packages whose behaviour the report depends on."""
    versions = {"python": platform.python_version()}
    for name in _REPORTED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def compute_report() -> dict[str, object]:
    """Threads and the CPU/GPU features the training code chooses its fast path from."""
    import torch

    info: dict[str, object] = {
        "cpu cores": os.cpu_count(),
        "torch threads": torch.get_num_threads(),
        "cpu capability": torch.backends.cpu.get_cpu_capability(),
        "mkldnn (oneDNN)": torch.backends.mkldnn.is_available(),
        "amx tiles": bool(getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)()),
        "cuda": torch.cuda.is_available(),
    }
    info["bf16 on cpu"] = bf16_cpu_supported()
    info["native bf16 (fast)"] = bf16_cpu_fast()
    if torch.cuda.is_available():
        info["cuda device"] = torch.cuda.get_device_name(0)
    return info


def bf16_cpu_supported() -> bool:
    """True when a bf16-autocast convolution runs on this CPU and stays close to fp32."""
    import torch

    try:
        conv = torch.nn.Conv2d(3, 8, 3)
        x = torch.randn(1, 3, 16, 16)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = conv(x)
        return out.dtype == torch.bfloat16 and torch.allclose(out.float(), conv(x), atol=0.1)
    except RuntimeError:
        return False


def bf16_cpu_fast() -> bool:
    """True when the CPU has native bf16 arithmetic (AVX512-BF16 or AMX), where oneDNN's bf16
    convolutions beat fp32. Elsewhere bf16 autocast still runs, but emulated and much slower."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return any(flag in flags.split() for flag in ("avx512_bf16", "amx_bf16"))


def data_fingerprint(data_root: str | Path) -> pd.DataFrame:
    """Per dataset folder: manifest sha256, rows listed and how many of their image files exist."""
    rows = []
    for manifest in sorted(Path(data_root).glob("*/manifest.csv")):
        table = pd.read_csv(manifest, usecols=["filename"])
        present = sum((manifest.parent / "images" / name).is_file() for name in table["filename"])
        rows.append({"dataset": manifest.parent.name, "manifest_sha256": sha256_file(manifest),
                     "images listed": len(table), "images present": present,
                     "missing": len(table) - present})
    return pd.DataFrame(rows, columns=["dataset", "manifest_sha256", "images listed",
                                       "images present", "missing"])
