"""timm-style factory functions for the supported backbones.

Each returns ``(trunk, WeightsInfo)`` with real weights by default (``weights="auto"`` never
falls back to a random init); see :func:`.weights.load_pretrained_backbone`. The registry of
what each backbone is lives in :mod:`.backbones`.
"""
from __future__ import annotations

from torch import nn

from .weights import WeightsInfo, load_pretrained_backbone


def _factory(name: str, weights: str, checkpoint, **kwargs) -> tuple[nn.Module, WeightsInfo]:
    return load_pretrained_backbone(name, weights, checkpoint, **kwargs)


def efficientnet_lite0(weights: str = "auto", checkpoint=None, **kwargs):
    """EfficientNet-Lite0 trunk (packaged ImageNet weights offline) -> (nn.Module, WeightsInfo)."""
    return _factory("efficientnet_lite0", weights, checkpoint, **kwargs)


def efficientnet_lite1(weights: str = "auto", checkpoint=None, **kwargs):
    """EfficientNet-Lite1 trunk (packaged ImageNet weights offline) -> (nn.Module, WeightsInfo)."""
    return _factory("efficientnet_lite1", weights, checkpoint, **kwargs)


def efficientnet_lite2(weights: str = "auto", checkpoint=None, **kwargs):
    """EfficientNet-Lite2 trunk (packaged ImageNet weights offline) -> (nn.Module, WeightsInfo)."""
    return _factory("efficientnet_lite2", weights, checkpoint, **kwargs)


def efficientnet_b0(weights: str = "auto", checkpoint=None, **kwargs):
    """EfficientNet-B0 trunk (checkpoint, or weights="hub" online) -> (nn.Module, WeightsInfo)."""
    return _factory("efficientnet_b0", weights, checkpoint, **kwargs)


def efficientnet_b1(weights: str = "auto", checkpoint=None, **kwargs):
    """EfficientNet-B1 trunk (checkpoint, or weights="hub" online) -> (nn.Module, WeightsInfo)."""
    return _factory("efficientnet_b1", weights, checkpoint, **kwargs)


def resnet50(weights: str = "auto", checkpoint=None, **kwargs):
    """ResNet-50 trunk (checkpoint, or weights="hub" online) -> (nn.Module, WeightsInfo)."""
    return _factory("resnet50", weights, checkpoint, **kwargs)
