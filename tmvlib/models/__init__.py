"""Models: backbone registry, weight resolution (never silently random) and the X-ray classifier."""
from .backbones import BACKBONES, BackboneSpec, UnknownBackboneError, get_backbone, list_backbones
from .classifier import XrayClassifier, build_classifier, gray_to_input
from .factory import (efficientnet_b0, efficientnet_b1, efficientnet_lite0, efficientnet_lite1,
                      efficientnet_lite2, resnet50)
from .weights import (CheckpointError, HubWeightsUnavailable, WeightsError, WeightsInfo,
                      load_imagenet_model, load_pretrained_backbone, read_state_dict,
                      resolve_weights)
__all__ = [
    "BACKBONES", "BackboneSpec", "CheckpointError", "HubWeightsUnavailable", "UnknownBackboneError",
    "WeightsError", "WeightsInfo", "XrayClassifier", "build_classifier", "efficientnet_b0",
    "efficientnet_b1", "efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2",
    "get_backbone", "gray_to_input", "list_backbones", "load_imagenet_model",
    "load_pretrained_backbone", "read_state_dict", "resnet50", "resolve_weights",
]
