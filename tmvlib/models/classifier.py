"""Binary chest X-ray classifier: pretrained CNN trunk -> average pool -> dropout -> 1 logit."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from .backbones import BackboneSpec, get_backbone
from .weights import (WeightsInfo, is_classifier_state_dict, load_pretrained_backbone,
                      read_state_dict)


class XrayClassifier(nn.Module):
    """trunk (timm, num_classes=0, global_pool='') -> avg pool -> Dropout(p) -> Linear(F, 1).

    forward(x (B,3,H,W) normalised floats) -> (B,) logits. The head's ``nn.Dropout`` is the only
    dropout module, so MC dropout can find it by type. State dict keys: ``trunk.*``, ``fc.*``.
    """

    def __init__(self, trunk: nn.Module, spec: BackboneSpec, dropout: float = 0.2):
        super().__init__()
        self.spec = spec
        self.trunk = trunk
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(spec.feature_dim, 1)
        self.frozen_stages = 0

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        """(B,3,H,W) -> (B, F, H/32, W/32): the trunk's last activated feature map."""
        return self.trunk.forward_features(x)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(B,3,H,W) -> (B, F) globally average-pooled trunk features."""
        return self.pool(self.feature_map(x)).flatten(1)

    def head(self, features: torch.Tensor) -> torch.Tensor:
        """(B, F) pooled features -> (B,) logits through dropout and the linear layer."""
        return self.fc(self.dropout(features)).squeeze(-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B,3,H,W) -> (B,) logits (sigmoid gives P(positive))."""
        return self.head(self.features(x))

    @property
    def cam_target_name(self) -> str:
        """Path of the Grad-CAM layer for ``model.get_submodule`` (e.g. 'trunk.bn2')."""
        return f"trunk.{self.spec.cam_layer}"

    @property
    def cam_target_layer(self) -> nn.Module:
        """Module whose output (B, F, h, w) is the pooled feature map; hook it for Grad-CAM."""
        return self.get_submodule(self.cam_target_name)

    def freeze_stages(self, k: int) -> None:
        """Freeze trunk stages ``spec.stages[:k]`` (0 = none, 1 = stem, k = stem + first k-1
        blocks, len(stages) = whole trunk); unfreezes the rest. Frozen params get
        requires_grad=False and frozen stages stay in eval mode, so their BatchNorm running
        statistics keep their pretrained values during training. The head is always trainable."""
        n = len(self.spec.stages)
        if not 0 <= k <= n:
            raise ValueError(f"frozen_stages must be in 0..{n} for {self.spec.name}, got {k}")
        self.trunk.requires_grad_(True)
        for m in self._stage_modules(k):
            m.requires_grad_(False)
        self.frozen_stages = k
        self.train(self.training)  # re-apply the eval mode of frozen stages

    def _stage_modules(self, k: int) -> list[nn.Module]:
        return [self.trunk.get_submodule(p) for stage in self.spec.stages[:k] for p in stage]

    def train(self, mode: bool = True) -> XrayClassifier:
        """Like nn.Module.train, but frozen stages always stay in eval mode."""
        super().train(mode)
        for m in self._stage_modules(self.frozen_stages):
            m.eval()
        return self


def gray_to_input(gray: torch.Tensor | np.ndarray,
                  norm: WeightsInfo | BackboneSpec) -> torch.Tensor:
    """uint8 grayscale (B,H,W) or (B,1,H,W) -> float32 (B,3,H,W): scaled to [0, 1], the channel
    repeated to RGB, then normalised with ``norm.mean`` / ``norm.std`` (use the WeightsInfo the
    model was built with). Other dtypes raise TypeError (no float image is rescaled twice)."""
    x = torch.as_tensor(gray)
    if x.dtype != torch.uint8:
        raise TypeError(f"gray_to_input expects uint8, got {x.dtype}")
    if x.ndim == 3:
        x = x.unsqueeze(1)
    if x.ndim != 4 or x.shape[1] != 1:
        raise ValueError(f"expected (B,H,W) or (B,1,H,W), got {tuple(x.shape)}")
    mean = torch.tensor(norm.mean, dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(norm.std, dtype=torch.float32).view(1, 3, 1, 1)
    return (x.float().div_(255.0).expand(-1, 3, -1, -1) - mean) / std


def build_classifier(backbone: str = "efficientnet_lite0", weights: str = "auto",
                     checkpoint: str | Path | None = None, dropout: float = 0.2,
                     frozen_stages: int = 0) -> tuple[XrayClassifier, WeightsInfo]:
    """Build an XrayClassifier on a backbone with real weights (see weights.resolve_weights).

    checkpoint: a trunk / timm state dict (head freshly initialised) or an XrayClassifier state
    dict (trunk and head restored). Returns (model in eval mode, WeightsInfo); call
    ``model.train()`` before training.
    """
    spec = get_backbone(backbone)
    trunk, info = load_pretrained_backbone(backbone, weights, checkpoint, global_pool="")
    model = XrayClassifier(trunk, spec, dropout)
    if checkpoint is not None:
        sd = read_state_dict(checkpoint)  # a second read, only to restore the head if present
        if is_classifier_state_dict(sd):
            model.fc.load_state_dict({k[3:]: v for k, v in sd.items() if k.startswith("fc.")})
    model.freeze_stages(frozen_stages)
    return model.eval(), info
