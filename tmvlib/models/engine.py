"""Forward engines: one calling convention for every forward-only pass of a fixed model.

An engine turns an eval-mode module ``f`` (``(N,3,H,W) float32 -> (N, ...)``) into a callable
``engine(x) -> torch.Tensor (N, K) float32`` for one input size, on the CPU or the module's
device. Three kinds:

- ``"torch"``: the module TorchScript-traced and frozen (BatchNorm folded into the convolutions),
  channels_last; the only engine off the CPU.
- ``"onnxruntime"``: the module exported to ONNX (``torch.onnx.export``, opset 17, dynamic
  batch) and run by ONNX Runtime's CPU execution provider with all graph optimisations.
- ``"openvino"``: the same ONNX file compiled by OpenVINO for the CPU with the LATENCY hint and
  ``INFERENCE_PRECISION_HINT = f32``: without it OpenVINO computes in bf16 on CPUs with native
  bf16 (AMX, AVX512-BF16), which is an approximation, not the model.

``precision="bf16"`` asks for bfloat16 arithmetic instead, an approximation whose agreement with
float32 is measured, not guaranteed: OpenVINO with ``INFERENCE_PRECISION_HINT = bf16`` (its
inputs and outputs stay float32), or the torch engine on a bf16 copy of the module (inputs cast
to bf16). ONNX Runtime's CPU provider has no bf16 kernels, so it is float32 only.

``"auto"`` picks the fastest engine measured by ``make bench`` (``benchmarks/bench_cam.py``) for the
device: OpenVINO on the CPU, else ONNX Runtime, else torch; on CUDA, torch. If an engine cannot be
imported or built on this platform, ``auto`` falls back to the next one with a single log line,
so the book builds everywhere; asking for an engine by name raises instead.

Threads: ``threads`` (default ``torch.get_num_threads()``, i.e. the cores PyTorch was given),
one inference stream, no inter-op parallelism, so an engine never oversubscribes the cores
PyTorch also uses. Exported graphs are cached on disk, keyed by the sha256 of the module's
parameters and buffers, the input size and the engine (:func:`module_digest`), so a new
checkpoint gets a new graph and an unchanged one is not exported again.
"""
from __future__ import annotations

import copy
import hashlib
import logging
import os
import warnings
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

ENGINES = ("auto", "torch", "openvino", "onnxruntime")
PRECISIONS = ("fp32", "bf16")
CPU_PREFERENCE = ("openvino", "onnxruntime", "torch")  # fastest first, as measured by make bench
OPSET = 17
log = logging.getLogger("tmvlib.engine")


def default_cache_dir() -> Path:
    """``$TMV_ENGINE_CACHE``, else ``~/.cache/tmvlib/engines``."""
    return Path(os.environ.get("TMV_ENGINE_CACHE", Path.home() / ".cache" / "tmvlib" / "engines"))


def module_digest(module: nn.Module) -> str:
    """sha256 (hex, 16 characters) of the module's state: every parameter and buffer in order,
    with its name, dtype and shape. Two checkpoints with the same weights share an exported graph."""
    h = hashlib.sha256()
    for name, tensor in module.state_dict().items():
        t = tensor.detach().cpu().contiguous()
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)};".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()[:16]


class TorchEngine:
    """The module traced and frozen for one input size (channels_last on the CPU)."""

    name = "torch"

    def __init__(self, module: nn.Module, size: tuple[int, int], channels_last: bool = True):
        self.channels_last = channels_last
        param = next(module.parameters(), None)
        self.dtype = param.dtype if param is not None and param.is_floating_point() else torch.float32
        self.module = _trace_frozen(module, size, channels_last)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.dtype)  # a no-op for inputs already in the module's dtype
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode():
            out = self.module(x)
        return out.reshape(x.shape[0], -1).float()


class OnnxRuntimeEngine:
    """ONNX Runtime, CPU execution provider, all graph optimisations, ``threads`` intra-op
    threads, sequential execution."""

    name = "onnxruntime"

    def __init__(self, onnx_path: Path, threads: int):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        self.session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
        self.input = self.session.get_inputs()[0].name

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        out = self.session.run(None, {self.input: _numpy(x)})[0]
        return torch.from_numpy(np.ascontiguousarray(out)).reshape(x.shape[0], -1).float()


class OpenVINOEngine:
    """OpenVINO, CPU plugin, LATENCY hint, ``threads`` threads, one stream, float32 inference
    precision (``precision="bf16"``: bfloat16 arithmetic, float32 inputs and outputs)."""

    name = "openvino"

    def __init__(self, onnx_path: Path, threads: int, precision: str = "fp32"):
        import openvino as ov

        core = ov.Core()
        hint = {"fp32": "f32", "bf16": "bf16"}[precision]
        config = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": hint,
                  "INFERENCE_NUM_THREADS": threads, "NUM_STREAMS": 1}
        self.compiled = core.compile_model(core.read_model(str(onnx_path)), "CPU", config)
        self.request = self.compiled.create_infer_request()

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        result = self.request.infer({0: _numpy(x)}, share_inputs=True)
        out = next(iter(result.values()))
        return torch.from_numpy(np.array(out, copy=True)).reshape(x.shape[0], -1).float()


Engine = Callable[[torch.Tensor], torch.Tensor]


def build_engine(module: nn.Module, size: tuple[int, int], engine: str = "auto", threads: int | None = None,
                 cache_dir: Path | None = None, channels_last: bool = True,
                 precision: str = "fp32") -> TorchEngine | OnnxRuntimeEngine | OpenVINOEngine:
    """An engine for ``module`` (eval mode, float32) and inputs of ``size`` (H, W).

    Args:
        engine: ``"auto"`` | ``"torch"`` | ``"openvino"`` | ``"onnxruntime"`` (see the module doc).
        threads: intra-op threads (default: ``torch.get_num_threads()``).
        cache_dir: where exported ONNX graphs are kept (default :func:`default_cache_dir`).
        channels_last: the torch engine's memory format.
        precision: ``"fp32"`` (the model) or ``"bf16"`` (OpenVINO or torch in bfloat16; see the
            module doc). A module whose parameters are already bf16 gets the torch engine.
    Raises:
        ValueError: an unknown engine or precision, a named CPU engine for a module off the
            CPU, or ONNX Runtime in bf16.
        ImportError / RuntimeError: a named engine that cannot load or build here.
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    device = module_device(module)
    if engine == "auto":
        return _auto_engine(module, size, device, threads, cache_dir, channels_last, precision)
    if engine != "torch" and device.type != "cpu":
        raise ValueError(f"engine {engine!r} runs on the CPU; the module is on {device}")
    if engine == "onnxruntime" and precision == "bf16":
        raise ValueError("ONNX Runtime's CPU provider computes in float32 only; use openvino or torch for bf16")
    return _build(engine, module, size, threads, cache_dir, channels_last, precision)


def _auto_engine(module, size, device, threads, cache_dir, channels_last, precision):
    if device.type != "cpu" or next(module.parameters()).dtype != torch.float32:
        return _build("torch", module, size, threads, cache_dir, channels_last, precision)
    for name in CPU_PREFERENCE:
        if name == "onnxruntime" and precision == "bf16":
            continue
        try:
            return _build(name, module, size, threads, cache_dir, channels_last, precision)
        except Exception as err:  # noqa: BLE001 - any failure to load or build: the next engine
            log.warning("tmvlib engine: %s is unavailable here (%s: %s); using the next engine",
                        name, type(err).__name__, err)
    raise AssertionError("unreachable: the torch engine does not fail to build")  # pragma: no cover


def _build(name: str, module: nn.Module, size: tuple[int, int], threads: int | None, cache_dir: Path | None,
           channels_last: bool = True, precision: str = "fp32"):
    if name == "torch":
        if precision == "bf16" and next(module.parameters()).dtype == torch.float32:
            module = copy.deepcopy(module).to(torch.bfloat16)  # cast before tracing
        return TorchEngine(module, size, channels_last)
    threads = int(threads or torch.get_num_threads())
    path = export_onnx(module, size, cache_dir)
    if name == "openvino":
        return OpenVINOEngine(path, threads, precision)
    return OnnxRuntimeEngine(path, threads)


def export_onnx(module: nn.Module, size: tuple[int, int], cache_dir: Path | None = None) -> Path:
    """The module's ONNX graph for inputs ``(n, 3, H, W)`` (dynamic ``n``), exported once per
    module state and size (``<cache>/<digest>-<H>x<W>.onnx``, written atomically)."""
    cache_dir = Path(cache_dir or default_cache_dir())
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / f"{module_digest(module)}-{size[0]}x{size[1]}.onnx"
    if path.is_file():
        return path
    export = copy.deepcopy(module).float().eval().to("cpu", memory_format=torch.contiguous_format)
    example = torch.zeros(2, 3, *size)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # TracerWarnings about shape-derived constants
        torch.onnx.export(export, (example,), str(tmp), input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {0: "n"}, "y": {0: "n"}}, opset_version=OPSET, dynamo=False)
    os.replace(tmp, path)
    return path


def _numpy(x: torch.Tensor) -> np.ndarray:
    """float32 contiguous NCHW numpy view of a CPU tensor (a copy only when needed)."""
    return np.ascontiguousarray(x.detach().to("cpu", torch.float32).contiguous().numpy())


def module_device(module: nn.Module) -> torch.device:
    """The device of the module's first parameter (or buffer); CPU for a module with neither."""
    for tensor in (*module.parameters(), *module.buffers()):
        return tensor.device
    return torch.device("cpu")


def _trace_frozen(model: nn.Module, size: tuple[int, int], channels_last: bool) -> nn.Module:
    """Trace ``model`` with a zero example of ``size`` in the dtype and on the device of its
    parameters, then freeze it; the model itself if tracing fails."""
    param = next(model.parameters(), None)
    dtype = param.dtype if param is not None and param.is_floating_point() else torch.float32
    device = param.device if param is not None else torch.device("cpu")
    example = torch.zeros(1, 3, *size, dtype=dtype, device=device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        example = example.contiguous(memory_format=torch.channels_last)
    try:
        with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
            warnings.simplefilter("ignore")  # TracerWarnings about shape-derived constants
            return torch.jit.freeze(torch.jit.trace(model, example).eval())
    except Exception as err:  # noqa: BLE001 - any tracing failure: stay correct, just slower
        warnings.warn(f"tracing failed ({err!r}); using the eager model", stacklevel=3)
        return model
