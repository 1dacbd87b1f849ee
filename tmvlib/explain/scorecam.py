"""Score-CAM (Wang et al. 2020, CVPR-W, "Score-CAM: Score-Weighted Visual Explanations for
Convolutional Neural Networks"), batched with a flat memory peak.

Definition used here, for activations A (C,h,w) of the target layer and a single-logit model f:

1. masks: ``H_k = s(Up(A_k))``, Up = bilinear to the input size (``align_corners=False``),
   s = min-max normalisation to [0, 1] per channel, as in the paper. A constant channel (e.g. a
   dead ReLU channel) has no spatial information; its mask is all zeros (pytorch-grad-cam gives
   the same, (A - min) / (max - min + 1e-8) = 0).
2. masked inputs: ``M_k = X * H_k`` in the model's *normalised* input space, as the paper masks
   the image the network sees. The implied baseline (mask 0) is therefore ``X_b = 0``: mid-grey
   for EfficientNet-Lite's (x - 0.5) / 0.5 normalisation, the mean colour for ImageNet mean/std.
3. scores (``score=``): ``"prob"`` (default) the increase of confidence of the paper,
   ``S_k = sigmoid(f(M_k)) - sigmoid(f(X_b))``; the sigmoid is the two-class softmax
   ``softmax([0, z])[1]``, i.e. the paper's class probability for a one-logit model.
   ``"logit"``: ``S_k = f(M_k) - f(X_b)``.
4. weights (``weighting=``): ``"cic"`` (default) ``alpha_k = S_k`` (the paper's
   ``w_k = C(A_k)``, a linear combination); ``"softmax"``: ``alpha = softmax_k(S)``, a softmax
   over channels, as pytorch-grad-cam and torch-cam do (on raw logits). A softmax over channels
   is shift-invariant, so the baseline cancels there, and it is dominated by the few channels
   with the highest scores; the CIC weights are linear and can be negative.
5. map: ``L = ReLU(sum_k alpha_k A_k)`` on the (h,w) grid, upsampled bilinearly to the input and
   min-max normalised to [0, 1] (any positive scale of alpha, e.g. the softmax denominator,
   cancels in that normalisation).

pytorch-grad-cam's ``ScoreCAM`` = ``score="logit", weighting="softmax"`` with two differences:
it upsamples the masks with ``align_corners=True`` (``mask_align_corners=True`` here reproduces
it) and normalises the low-resolution CAM *before* resizing it with OpenCV (the same affine map
of the values, so the correlation is unaffected). torch-cam's ``ScoreCAM`` also uses a softmax of
logits (its baseline is the unmasked input's logit, which the softmax cancels too) but min-max
normalises the activations *before* upsampling, and returns the (h,w) map.

Speed (exact, no approximation): every masked input needs its own forward pass (the network is
nonlinear in its input), so the work is the number of distinct masks. Constant channels are not
forwarded (their masked input is the baseline, scored once), and channels with identical
normalised maps (common after ReLU6 on a 7x7 grid: e.g. single-pixel maps) are forwarded once:
``s(Up(A_k))`` depends only on the min-max normalised low-res map, so equal low-res maps give
bit-identical masks. On radiographs at 224 px about 35-45% of EfficientNet-Lite0's 1280 ``bn2``
channels are constant and a further ~7% duplicates: ~750 forwards instead of 1280. Masked
inputs are written chunk by chunk into one preallocated (batch_size,3,H,W) buffer (peak memory
independent of C) and scored by a private eval-mode copy of the model run by a **forward engine**
(``engine=``, :mod:`tmvlib.models.engine`): ``"torch"`` traces and freezes it (BatchNorm folded
into the convolutions, channels_last; ~1.2x faster than eager on a 2-core CPU), ``"openvino"`` and
``"onnxruntime"`` run its exported ONNX graph in float32, ``"eager"`` runs the copy as it is, and
``"auto"`` (default) takes the fastest engine ``make bench`` measured for the device, falling back
to the next when one cannot load. Every engine computes the same float32 function; they differ
by rounding (``benchmarks/bench_cam.py`` prints the agreement).

Precision (``precision=``): ``"fp32"`` (default, exact up to float32 rounding), ``"bf16"`` or
``"auto"`` (``tmvlib.models.precision.resolve_precision``: bf16 on CUDA where supported and on
CPUs with native bf16, AVX512-BF16 / AMX; else fp32; the result is ``ScoreCAM.precision``).
With bf16 only the *scoring* is bfloat16, and the engine decides how: OpenVINO (``"auto"`` on the
CPU) compiles the float32 graph with a bf16 inference precision (float32 inputs and logits); the
torch engine casts the scoring copy with ``.to(torch.bfloat16)`` before tracing (freezing then
folds BatchNorm in bf16) and masked inputs are rounded to bf16 in the input buffer; ONNX Runtime
has no bf16 (a ValueError). Activations, masks, weights and the map stay float32. bf16 is an approximation whose agreement with fp32 is measured, not guaranteed
(``benchmarks/bench_cam.py --precision bf16`` prints it; the tests check a floor at 64 px).
On CPUs without native bf16 it is emulated and slower than fp32. Measured agreement and timings
per machine: ``benchmarks/README.md``.

Device: everything runs on the model's device (``next(model.parameters()).device``): the
scoring copy, the input buffer, the masks and the weights; ``x`` is moved there and the maps
come back as CPU numpy arrays. On CUDA, "fp32" turns off TF32 for cuDNN convolutions during
the call (PyTorch's default lets them round inputs to a 10-bit mantissa), so it stays exact.

Approximate option ``top_k``: score only the k live channels with the largest spatial variance
(or mean) of their activation; the others get the mean of the scored weights (``fill="mean"``,
default: their activations stay in the map) or weight 0 (``fill="zero"``). How well this keeps
the exact map depends on the image and the head (``benchmarks/bench_cam.py`` prints it).
"""
from __future__ import annotations

import contextlib
import copy
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..models.engine import build_engine, module_device
from ..models.precision import resolve_precision
from .base import EPS, as_batch, chunks, layer_activations, resolve_layer, to_heatmaps

SCORES = ("prob", "logit")
WEIGHTINGS = ("cic", "softmax")
SELECTS = ("variance", "mean")
ENGINES = ("auto", "torch", "openvino", "onnxruntime", "eager")
FILLS = ("zero", "mean")


@dataclass
class ScoreCAMStats:
    """What the last call did, summed over its images: channels seen, constant channels (not
    forwarded), channels left out by top_k, distinct masks forwarded, seconds spent."""

    channels: int = 0
    constant: int = 0
    unselected: int = 0
    forwards: int = 0
    seconds: float = 0.0
    per_image: list[dict] = field(default_factory=list)


class ScoreCAM:
    """Score-CAM of the positive logit; see the module docstring for the exact definition.

    model: ``forward(x (B,3,H,W)) -> (B,)``; layer: target layer (default
    ``model.cam_target_layer``). The model is only read: masked inputs are scored by a deep copy
    taken at construction (eval mode, channels_last if ``channels_last``), so later changes to
    ``model`` need a new ScoreCAM. ``batch_size``: masked inputs per forward pass (8: at 224 px
    on this 2-core CPU, 8 to 64 run equally fast, and the peak RSS grows with it: ~160 MiB at
    8, ~440 at 16, ~810 at 32).
    ``dedupe``: forward identical masks once (exact). ``top_k``/``select``/``fill``: optional
    approximation (None = exact). ``mask_align_corners``: mask upsampling convention (True =
    pytorch-grad-cam's). ``precision``: "fp32" (default), "bf16" or "auto" for the scoring
    forwards (see the module docstring; resolved value in ``self.precision``). Runs on the
    model's device (``self.device``). ``__call__(x)`` -> float32 (B,H,W) in [0, 1] (CPU numpy);
    ``stats`` describes it.
    ``heads``: optional extra linear heads ``{name: nn.Linear(F, 1)}`` explained from the *same*
    masked forwards: the scoring copy stops at the pooled features and each head (the model's
    own ``fc`` first) turns them into logits; after a call, ``head_maps[name]`` holds each extra
    head's maps. Exact for a model that differs from ``model`` only in ``fc`` (the masks are the
    target layer's activations and the masked inputs do not depend on ``fc``), so the
    randomised-head sanity check costs no extra forward pass.
    """

    def __init__(self, model: nn.Module, layer: nn.Module | str | None = None, *,
                 score: str = "prob", weighting: str = "cic", batch_size: int = 8,
                 top_k: int | None = None, select: str = "variance", fill: str = "mean",
                 dedupe: bool = True, channels_last: bool = True, engine: str = "auto",
                 mask_align_corners: bool = False, precision: str = "fp32",
                 heads: dict[str, nn.Module] | None = None):
        for name, value, allowed in (("score", score, SCORES), ("weighting", weighting, WEIGHTINGS),
                                     ("select", select, SELECTS), ("fill", fill, FILLS)):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
        if engine not in ENGINES:
            raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
        if top_k is not None and top_k < 1:
            raise ValueError(f"top_k must be >= 1 or None, got {top_k}")
        self.device = module_device(model)
        self.precision = resolve_precision(precision, self.device)  # ValueError if unknown
        self.dtype = torch.bfloat16 if self.precision == "bf16" else torch.float32
        self.model, self.layer = model, resolve_layer(model, layer)
        self.score, self.weighting, self.batch_size = score, weighting, int(batch_size)
        self.top_k, self.select, self.fill, self.dedupe = top_k, select, fill, dedupe
        self.channels_last, self.mask_align_corners = channels_last, mask_align_corners
        if self.precision == "bf16" and engine == "onnxruntime":
            raise ValueError("engine 'onnxruntime' computes in float32 only; use openvino or torch for bf16")
        self.engine = engine
        self.engine_name: str | None = None  # the engine actually built (after the first call)
        self.heads = dict(heads or {})
        self.head_maps: dict[str, np.ndarray] = {}
        # the eager copy is cast here; the engines get float32 and the precision (build_engine)
        self.scorer = _scoring_copy(model, channels_last, self.dtype if engine == "eager" else torch.float32)
        self._head_weight: torch.Tensor | None = None
        if self.heads:  # score pooled features, then every head: (n, F) @ (F, 1 + extra)
            linear = [model.fc, *self.heads.values()]
            if any(not isinstance(h, nn.Linear) or h.out_features != 1 for h in linear):
                raise ValueError("heads must be nn.Linear(F, 1) modules like the model's fc")
            self._head_weight = torch.cat([h.weight.detach() for h in linear]).T.float().to(self.device)
            self._head_bias = torch.cat([h.bias.detach() for h in linear]).float().to(self.device)
            self.scorer.fc = nn.Identity()
        self._engines: dict[tuple[int, int], object] = {}
        self._buffer: torch.Tensor | None = None
        self._baseline: dict[tuple[int, int], torch.Tensor] = {}
        self.stats = ScoreCAMStats()

    def __call__(self, x: torch.Tensor) -> np.ndarray:
        """x (3,H,W) or (B,3,H,W) normalised input -> float32 heatmaps (B,H,W) in [0, 1]."""
        start = time.perf_counter()
        x = as_batch(x).float().to(self.device)
        size = tuple(x.shape[-2:])
        self.stats = ScoreCAMStats()
        with _strict_fp32(self.device, self.precision):
            _, acts = layer_activations(self.model, x, self.layer)
            cams = torch.stack([self._cam(x[b], acts[b].float(), size) for b in range(x.shape[0])])
        out = to_heatmaps(cams[:, 0], size)
        self.head_maps = {name: to_heatmaps(cams[:, k], size) for k, name in enumerate(self.heads, start=1)}
        self.stats.seconds = time.perf_counter() - start
        return out

    def channel_weights(self, x: torch.Tensor, acts: torch.Tensor) -> torch.Tensor:
        """One image: x (3,H,W) normalised input, acts (C,h,w) float32 activations of the target
        layer for x -> alpha (C,) (steps 1-4 of the definition; 0 for constant channels under
        "cic"), of the model's own head. Adds this image to ``stats``."""
        with _strict_fp32(self.device, self.precision):
            return self._channel_weights(x.to(self.device), acts.to(self.device))[:, 0]

    def _channel_weights(self, x: torch.Tensor, acts: torch.Tensor) -> torch.Tensor:
        size = tuple(x.shape[-2:])
        base = self._baseline_logit(size)
        flat = acts.reshape(acts.shape[0], -1)
        lo, hi = flat.amin(1), flat.amax(1)
        live = (hi - lo) > EPS
        chosen = self._select(flat, live)
        # constant channels: masked input = X_b; one column per head
        logits = base.to(acts.device).expand(acts.shape[0], -1).clone()
        unselected = live.clone()
        unselected[chosen] = False
        if chosen.numel():
            norm = (flat[chosen] - lo[chosen, None]) / (hi - lo)[chosen, None]
            if self.dedupe:
                distinct, inverse = torch.unique(norm, dim=0, return_inverse=True)
            else:
                distinct, inverse = norm, torch.arange(norm.shape[0], device=norm.device)
            scored = self._score_masks(x, distinct.reshape(-1, *acts.shape[1:]))
            logits[chosen] = scored[inverse]
        else:
            distinct = flat[:0]
        self._record(acts.shape[0], int((~live).sum()), int(unselected.sum()), distinct.shape[0])
        return torch.stack([self._weights(logits[:, k], float(base[k]), unselected)
                            for k in range(logits.shape[1])], 1)

    # -- steps ------------------------------------------------------------------------------

    def _cam(self, x: torch.Tensor, acts: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """(n_heads, h, w) low-resolution maps, the model's own head first."""
        alpha = self._channel_weights(x, acts)  # (C, n_heads)
        channels, h, w = acts.shape
        return torch.relu((alpha.T @ acts.reshape(channels, h * w)).reshape(-1, h, w))

    def _select(self, flat: torch.Tensor, live: torch.Tensor) -> torch.Tensor:
        """Indices of the live channels to score: all of them, or the top_k by the statistic."""
        idx = live.nonzero().flatten()
        if self.top_k is None or self.top_k >= idx.numel():
            return idx
        stat = flat[idx].var(1) if self.select == "variance" else flat[idx].mean(1)
        return idx[stat.topk(self.top_k).indices.sort().values]

    def _weights(self, logits: torch.Tensor, base: float, unselected: torch.Tensor) -> torch.Tensor:
        if self.score == "prob":
            s = torch.sigmoid(logits) - float(torch.sigmoid(torch.tensor(base)))
        else:
            s = logits - base
        known = ~unselected
        if self.fill == "mean" and unselected.any():
            s[unselected] = s[known].mean() if known.any() else 0.0
        if self.weighting == "softmax":
            if self.fill == "zero":
                s[unselected] = -torch.inf  # left-out channels get weight 0
            return torch.softmax(s.double(), 0).float()
        if self.fill == "zero":
            s[unselected] = 0.0
        return s

    def _score_masks(self, x: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        """x (3,H,W), low-res normalised maps (U,h,w) -> logits (U, n_heads) of f(x * s(Up(map)))."""
        size = tuple(x.shape[-2:])
        buf = self._input_buffer(size)
        out = torch.empty(masks.shape[0], 1 + len(self.heads), device=self.device)
        # Off the CPU the last, partial chunk is forwarded at the full batch shape (stale rows
        # ignored): one input shape for the traced model and cuDNN, no re-profiling per image.
        # On the CPU the extra rows would cost their full compute, so it forwards n rows.
        full = self.device.type != "cpu"
        with torch.inference_mode(), _torch_threads_for(self.engine_name):
            for sl in chunks(masks.shape[0], self.batch_size):
                n = sl.stop - sl.start
                up = F.interpolate(masks[sl, None], size=size, mode="bilinear",
                                   align_corners=self.mask_align_corners)
                flat = up.view(n, -1)
                flat.sub_(flat.amin(1, keepdim=True))  # s(Up(A_k)): min-max after upsampling
                flat.div_(flat.amax(1, keepdim=True).clamp_min(EPS))
                # (n,3,H,W): X * H_k in float32, rounded once into the buffer's dtype
                torch.mul(x.unsqueeze(0), up, out=buf[:n])
                out[sl] = self._forward(buf if full else buf[:n])[:n]
        return out

    def _channels_last(self, size: tuple[int, int]) -> bool:
        """Masked inputs in channels_last for the torch engines (oneDNN's preferred layout), in
        plain NCHW for ONNX Runtime and OpenVINO (no copy before each forward)."""
        self._module_for(size)
        return self.channels_last and self.engine_name in ("torch", "eager")

    def _input_buffer(self, size: tuple[int, int]) -> torch.Tensor:
        shape = (self.batch_size, 3, *size)
        fmt = torch.channels_last if self._channels_last(size) else torch.contiguous_format
        if (self._buffer is None or tuple(self._buffer.shape) != shape
                or self._buffer.dtype != self._input_dtype()
                or not self._buffer.is_contiguous(memory_format=fmt)):
            self._buffer = torch.zeros(shape, dtype=self._input_dtype(), device=self.device
                                       ).contiguous(memory_format=fmt)
        return self._buffer

    def _input_dtype(self) -> torch.dtype:
        """bf16 inputs for torch's bf16 scoring (its modules are cast); float32 for the exported
        engines, which take float32 in every precision."""
        return self.dtype if self.engine_name in ("torch", "eager") else torch.float32

    def _baseline_logit(self, size: tuple[int, int]) -> torch.Tensor:
        """f(X_b) with X_b = 0 (the masked input of an all-zero mask), cached per input size."""
        if size not in self._baseline:
            with torch.inference_mode():
                self._module_for(size)
                zeros = torch.zeros(1, 3, *size, dtype=self._input_dtype(), device=self.device)
                if self._channels_last(size):
                    zeros = zeros.contiguous(memory_format=torch.channels_last)
                self._baseline[size] = self._forward(zeros)[0].clone()
        return self._baseline[size]

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """The scoring model's float32 logits ``(n,)`` of inputs ``x`` ``(n,3,H,W)`` (normalised),
        on the CPU: the same fast forward Score-CAM uses, for other forward-only work on the
        same model (e.g. deletion and insertion curves)."""
        fmt = torch.channels_last if self._channels_last(tuple(x.shape[-2:])) else torch.contiguous_format
        with torch.inference_mode(), _strict_fp32(self.device, self.precision):
            batch = x.to(self.device, self._input_dtype()).contiguous(memory_format=fmt)
            return self._forward(batch)[:, 0].cpu()

    def _forward(self, batch: torch.Tensor) -> torch.Tensor:
        """(n,3,H,W) -> float32 logits (n, n_heads) with the scoring model (inside
        inference_mode); one column unless extra ``heads`` were given."""
        out = self._module_for(tuple(batch.shape[-2:]))(batch).reshape(batch.shape[0], -1).float()
        if self._head_weight is None:
            return out
        return out @ self._head_weight + self._head_bias

    def prepare(self, size: tuple[int, int]) -> None:
        """Optional: build and warm the scoring engine for inputs of ``size`` (H, W) now rather
        than inside the first call (export or trace, compile, two warm runs: a few seconds at
        224 px on 2 cores, less when the exported graph is cached)."""
        module = self._module_for(tuple(size))
        if module is not self.scorer:
            with torch.inference_mode():
                for _ in range(2):  # the profiling executor optimises after two runs
                    module(self._input_buffer(tuple(size)))

    def _module_for(self, size: tuple[int, int]):
        """The scoring engine for inputs of ``size`` (``tmvlib.models.engine.build_engine``):
        ``"eager"`` is the eager copy; ``"torch"`` a traced + frozen copy (BatchNorm folded into
        each conv, exact up to rounding; traced per size because TF-"same" padding is computed
        from the input shape); ``"openvino"`` / ``"onnxruntime"`` the exported graph; ``"auto"``
        the fastest measured for the device, falling back when an engine cannot load."""
        if self.engine == "eager":
            self.engine_name = "eager"
            return self.scorer
        if size not in self._engines:
            engine = build_engine(self.scorer, size, self.engine, channels_last=self.channels_last,
                                  precision=self.precision)
            self._engines[size] = engine
            self.engine_name = engine.name
        return self._engines[size]

    def _record(self, channels: int, constant: int, unselected: int, forwards: int) -> None:
        st = self.stats
        st.channels += channels
        st.constant += constant
        st.unselected += unselected
        st.forwards += forwards
        st.per_image.append({"channels": channels, "constant": constant,
                             "unselected": unselected, "forwards": forwards})


@contextlib.contextmanager
def _torch_threads_for(engine: str | None) -> Iterator[None]:
    """While ONNX Runtime or OpenVINO score the masked inputs, PyTorch's own work between their
    calls (upsampling and multiplying the masks) runs on one thread: its OpenMP workers would
    otherwise spin-wait on the cores the engine's threads need (measured: the engine ~2x slower
    on 2 cores). The thread count is restored afterwards."""
    if engine not in ("openvino", "onnxruntime"):
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextlib.contextmanager
def _strict_fp32(device: torch.device, precision: str) -> Iterator[None]:
    """precision "fp32" on CUDA: cuDNN convolutions in true float32 for the block. PyTorch lets
    them use TF32 by default (a 10-bit mantissa), which would make "fp32" an approximation
    too. The global flag is restored afterwards. A no-op elsewhere."""
    before = None
    if device.type == "cuda" and precision == "fp32":
        try:
            before = torch.backends.cudnn.allow_tf32
            torch.backends.cudnn.allow_tf32 = False
        except (AttributeError, RuntimeError):  # a torch without (or refusing) the legacy flag
            before = None
    try:
        yield
    finally:
        if before is not None:
            torch.backends.cudnn.allow_tf32 = before


def _scoring_copy(model: nn.Module, channels_last: bool,
                  dtype: torch.dtype = torch.float32) -> nn.Module:
    """Eval-mode, grad-free deep copy of ``model`` on its device, cast to ``dtype`` (bf16
    scoring; before any tracing) and channels_last if asked, used for scoring."""
    scorer = copy.deepcopy(model).eval().requires_grad_(False)
    if dtype != torch.float32:
        scorer = scorer.to(dtype)
    if channels_last:
        scorer = scorer.to(memory_format=torch.channels_last)
    return scorer


def score_cam(model: nn.Module, x: torch.Tensor, layer: nn.Module | str | None = None,
              **options) -> np.ndarray:
    """Functional Score-CAM: ``ScoreCAM(model, layer, **options)(x)`` -> float32 (B,H,W) in
    [0, 1]. Options: score, weighting, batch_size, top_k, select, fill, dedupe, channels_last,
    engine, mask_align_corners, precision (see ``ScoreCAM``)."""
    return ScoreCAM(model, layer, **options)(x)
