"""Score-CAM: the batched implementation against a naive loop, and against pytorch-grad-cam."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.stats import spearmanr

from tmvlib.explain import ScoreCAM, SingleLogit, score_cam
from tmvlib.explain.base import capture_output, layer_activations
from tmvlib.models.precision import resolve_precision


def naive_scorecam(model, x, layer=None, score="prob", weighting="cic", align_corners=False):
    """Reference, written straight from the definition: every channel, one mask at a time, no
    deduplication or skipping, the plain eager model. Returns (heatmap (H,W), weights (C,))."""
    layer = model.cam_target_layer if layer is None else model.get_submodule(layer)
    size = tuple(x.shape[-2:])
    with torch.no_grad():
        with capture_output(layer) as store:
            model(x)
        acts = store["out"][0]
        masked = []
        for k in range(acts.shape[0]):
            up = F.interpolate(acts[None, k:k + 1], size=size, mode="bilinear",
                               align_corners=align_corners)[0, 0]
            span = up.max() - up.min()
            mask = (up - up.min()) / span if span > 1e-12 else torch.zeros_like(up)
            masked.append(x[0] * mask)
        masked = torch.stack(masked)
        logits = torch.cat([model(masked[i:i + 128]) for i in range(0, len(masked), 128)])
        base = model(torch.zeros_like(x))[0]
        if score == "prob":
            s = torch.sigmoid(logits) - torch.sigmoid(base)
        else:
            s = logits - base
        alpha = torch.softmax(s.double(), 0).float() if weighting == "softmax" else s
        cam = torch.relu((alpha[:, None, None] * acts).sum(0))
        up = F.interpolate(cam[None, None], size=size, mode="bilinear", align_corners=False)[0, 0]
        up = (up - up.min()) / (up.max() - up.min())
    return up.numpy(), alpha


def corr(a, b) -> float:
    return float(np.corrcoef(np.ravel(a), np.ravel(b))[0, 1])


@pytest.fixture(scope="module")
def x64(xray_input):
    return xray_input(64)


@pytest.fixture(scope="module")
def naive_default(lite0, x64):
    torch.set_num_threads(1)
    return naive_scorecam(lite0[0], x64)


@pytest.mark.parametrize("engine", ["torch", "eager", "openvino", "onnxruntime"])
def test_fast_matches_naive_reference(lite0, x64, naive_default, engine):
    model, _ = lite0
    cam = ScoreCAM(model, engine=engine, batch_size=16)
    heat = cam(x64)
    assert cam.engine_name == engine
    assert heat.shape == (1, 64, 64) and heat.dtype == np.float32
    assert heat.min() >= 0 and heat.max() == pytest.approx(1.0)
    ref, _ = naive_default
    assert corr(heat[0], ref) >= 0.999
    np.testing.assert_allclose(heat[0], ref, atol=2e-3)
    st = cam.stats
    # dead ReLU6 channels are not forwarded and duplicate masks are forwarded once
    assert st.channels == 1280 and st.constant > 0 and st.forwards < st.channels - st.constant


def test_softmax_variant_non_relu_layer_and_batch(lite0, xray_input):
    """score="logit", weighting="softmax" on a linear-bottleneck block output (negative values,
    no dead channels), two images at once: each map matches the naive reference."""
    model, _ = lite0
    x = torch.cat([xray_input(64, seed=1), xray_input(64, seed=2)])
    opts = {"score": "logit", "weighting": "softmax"}
    heat = ScoreCAM(model, "trunk.blocks.6", batch_size=64, engine="eager", **opts)(x)
    assert heat.shape == (2, 64, 64)
    for b in range(2):
        ref, _ = naive_scorecam(model, x[b:b + 1], layer="trunk.blocks.6", **opts)
        assert corr(heat[b], ref) >= 0.999


def test_buffer_is_flat_and_reused(lite0, x64):
    """Peak memory does not grow with C: one (batch_size,3,H,W) channels_last buffer."""
    model, _ = lite0
    cam = ScoreCAM(model, batch_size=8, engine="eager")
    cam(x64)
    buf = cam._buffer
    cam(x64)
    assert cam._buffer is buf and tuple(buf.shape) == (8, 3, 64, 64)
    assert buf.is_contiguous(memory_format=torch.channels_last)


def test_top_k_scores_at_most_k_channels(lite0, x64, naive_default):
    model, _ = lite0
    for select in ("variance", "mean"):
        for fill in ("zero", "mean"):
            cam = ScoreCAM(model, top_k=32, select=select, fill=fill, engine="eager")
            heat = cam(x64)
            assert cam.stats.forwards <= 32 and cam.stats.unselected > 0
            assert 0 <= heat.min() and heat.max() <= 1
    ref, _ = naive_default
    assert corr(ScoreCAM(model, top_k=64, fill="mean", engine="eager")(x64)[0], ref) > 0.5


def test_model_is_not_modified(lite0, x64):
    model, _ = lite0
    before = {k: v.clone() for k, v in model.state_dict().items()}
    score_cam(model, x64, top_k=4, engine="eager")
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert not model.training and next(model.parameters()).is_contiguous()


def test_invalid_options(lite0):
    model, _ = lite0
    with pytest.raises(ValueError):
        ScoreCAM(model, score="softmax")
    with pytest.raises(ValueError):
        ScoreCAM(model, top_k=0)


def test_invalid_precision(lite0):
    model, _ = lite0
    with pytest.raises(ValueError, match="precision"):
        ScoreCAM(model, precision="fp16")


def test_auto_precision_resolves_like_training(lite0):
    """"auto" follows resolve_precision (fp32 on a CPU without native bf16, e.g. AVX2 only)."""
    model, _ = lite0
    cam = ScoreCAM(model, precision="auto")
    assert cam.precision == resolve_precision("auto", torch.device("cpu"))
    assert cam.device == torch.device("cpu")
    assert ScoreCAM(model).precision == "fp32"  # the default is exact


def test_bf16_scoring_runs_on_cpu_and_agrees(lite0, x64, naive_default):
    """Forced bf16 with the torch engine (emulated on CPUs without native bf16: slow, hence one
    64-px image): its traced module and the input buffer are bfloat16, logits float32, and the
    map stays close to the float32 reference. Measured Pearson at 64 px: 0.9991-0.9999 over three
    inputs (a map with bf16 buffers but garbage logits, or fp32 everywhere, would not pass the
    dtype checks; a broken cast would drop the correlation far below 0.995)."""
    model, _ = lite0
    cam = ScoreCAM(model, precision="bf16", batch_size=16, engine="torch")
    assert cam.precision == "bf16" and cam.dtype == torch.bfloat16
    heat = cam(x64)
    assert heat.shape == (1, 64, 64) and heat.dtype == np.float32
    assert next(cam.scorer.parameters()).dtype == torch.float32  # the engine casts its own copy
    assert cam._buffer.dtype == torch.bfloat16
    engine = cam._engines[(64, 64)]
    assert cam.engine_name == "torch" and isinstance(engine.module, torch.jit.ScriptModule)
    assert engine.dtype == torch.bfloat16  # traced in bf16
    assert cam._forward(cam._buffer[:2]).dtype == torch.float32
    ref, _ = naive_default
    r = corr(heat[0], ref)
    print(f"\nbf16 vs fp32 reference at 64 px: Pearson {r:.5f}")
    assert r >= 0.995
    assert 0 < cam.stats.forwards < cam.stats.channels - cam.stats.constant


def test_bf16_scoring_with_openvino_agrees(lite0, x64, naive_default):
    """bf16 through OpenVINO (``INFERENCE_PRECISION_HINT = bf16``, the auto engine on the CPU):
    float32 inputs and logits, the map close to the float32 reference; ONNX Runtime refuses bf16."""
    pytest.importorskip("openvino")
    model, _ = lite0
    cam = ScoreCAM(model, precision="bf16", batch_size=16, engine="openvino")
    heat = cam(x64)
    assert cam.engine_name == "openvino" and cam._buffer.dtype == torch.float32
    r = corr(heat[0], naive_default[0])
    print(f"\nbf16 (OpenVINO) vs fp32 reference at 64 px: Pearson {r:.5f}")
    assert r >= 0.995
    with pytest.raises(ValueError, match="float32 only"):
        ScoreCAM(model, precision="bf16", engine="onnxruntime")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu(lite0, x64):
    """Everything on the model's device: a CUDA copy of the model gives the CPU map."""
    import copy

    model, _ = lite0
    cpu = ScoreCAM(model, batch_size=16)(x64)[0]
    gpu_model = copy.deepcopy(model).cuda()
    allow_tf32 = torch.backends.cudnn.allow_tf32
    cam = ScoreCAM(gpu_model, batch_size=16)
    assert cam.device.type == "cuda"
    heat = cam(x64)  # x on the CPU: moved to the model's device
    assert isinstance(heat, np.ndarray) and heat.shape == (1, 64, 64)
    assert cam._buffer.device.type == "cuda"
    assert corr(heat[0], cpu) >= 0.999  # "fp32" turns TF32 off for cuDNN: true float32
    assert torch.backends.cudnn.allow_tf32 == allow_tf32  # global flag restored


@pytest.mark.slow
def test_against_pytorch_grad_cam(lite0, x64):
    """pytorch-grad-cam's ScoreCAM = softmax over channels of raw logits, masks upsampled with
    align_corners=True, CAM min-max normalised before an OpenCV resize. Predictions:
    (1) our score="logit", weighting="softmax", mask_align_corners=True reproduces it (the
    normalise/resize order is an affine change of values: correlation ~1, tiny abs. error);
    (2) with our default masks (align_corners=False) only the mask convention differs: still
    correlation >= 0.999; (3) our default (CIC of sigmoid probabilities, linear weights) ranks
    the channels exactly as pytorch-grad-cam (both weights are increasing functions of the
    masked-input logit), but weighs them differently, so the maps agree only partially."""
    pgc = pytest.importorskip("pytorch_grad_cam")
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    model, _ = lite0
    theirs = pgc.ScoreCAM(SingleLogit(model), [model.cam_target_layer])
    theirs.batch_size = 128
    weights = {}
    original = theirs.get_cam_weights

    def spy(*args, **kwargs):
        weights["pgc"] = original(*args, **kwargs)
        return weights["pgc"]

    theirs.get_cam_weights = spy  # a reference cycle: only the cyclic GC would free `theirs`
    try:
        ref = theirs(x64, targets=[ClassifierOutputTarget(0)])[0]
    finally:
        # Remove its hooks from the shared fixture model now: pytorch-grad-cam removes them in
        # BaseCAM.__del__, and a GC pass inside a later copy.deepcopy(model) would mutate the
        # hook dicts being copied ("OrderedDict mutated during iteration").
        theirs.activations_and_grads.release()
        del theirs.get_cam_weights  # break the cycle: freed by reference counting
    compat = ScoreCAM(model, score="logit", weighting="softmax", mask_align_corners=True,
                      engine="eager")
    ours_compat = compat(x64)[0]
    assert corr(ours_compat, ref) >= 0.9999
    np.testing.assert_allclose(ours_compat, ref, atol=0.02)  # value shift from resize order only
    ours_ac_false = score_cam(model, x64, score="logit", weighting="softmax", engine="eager")[0]
    assert corr(ours_ac_false, ref) >= 0.999
    ours_default = score_cam(model, x64, engine="eager")[0]
    _, acts = layer_activations(model, x64)
    cic = ScoreCAM(model, mask_align_corners=True, engine="eager")  # pgc's masks, our weights
    alpha = cic.channel_weights(x64[0], acts[0].float()).numpy()
    rho = spearmanr(np.asarray(weights["pgc"])[0], alpha).statistic
    assert rho >= 0.999  # same channel ranking
    print(f"\nScore-CAM vs pytorch-grad-cam: compat corr={corr(ours_compat, ref):.6f}, "
          f"align_corners=False corr={corr(ours_ac_false, ref):.6f}, "
          f"default (prob CIC) corr={corr(ours_default, ref):.4f}, weight rank rho={rho:.6f}")


def test_extra_heads_equal_a_model_with_that_head(lite0, x64):
    """A randomised fc scored from the same masked forwards gives the map of a model with that
    fc (the sanity check's head step), and the model's own head is unchanged."""
    import copy

    from tmvlib.explain.sanity import randomize_

    model, _ = lite0
    other = copy.deepcopy(model)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(3)
        randomize_(other.fc)
    shared = ScoreCAM(model, heads={"random fc": other.fc})
    own = shared(x64)
    np.testing.assert_allclose(own, ScoreCAM(model)(x64), atol=2e-3)
    alone = ScoreCAM(other)(x64)
    np.testing.assert_allclose(shared.head_maps["random fc"], alone, atol=2e-3)
    assert shared.logits(x64).shape == (1,)
    with pytest.raises(ValueError, match="nn.Linear"):
        ScoreCAM(model, heads={"bad": torch.nn.Identity()})
