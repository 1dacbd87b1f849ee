"""Augmentation that keeps chest anatomy plausible.

Small affine jitter and intensity changes only. No horizontal flip by default: it moves the heart
to the right (dextrocardia is rare), which teaches the model an anatomy it will not meet.
"""
from __future__ import annotations

import torch
from torchvision.transforms import v2


def xray_augmentation(degrees: float = 7.0, translate: float = 0.05, scale: float = 0.07,
                      brightness: float = 0.15, contrast: float = 0.15, hflip: bool = False) -> v2.Compose:
    """Transform for one uint8 image tensor ``(1, H, W)``; returns the same shape and dtype."""
    steps = [v2.RandomAffine(degrees=degrees, translate=(translate, translate),
                             scale=(1 - scale, 1 + scale)),
             v2.ColorJitter(brightness=brightness, contrast=contrast)]
    if hflip:
        steps.append(v2.RandomHorizontalFlip())
    return v2.Compose(steps)


def augment_batch(images: torch.Tensor, transform: v2.Compose) -> torch.Tensor:
    """Apply ``transform`` to each image of a uint8 ``(B, 1, H, W)`` batch independently."""
    return torch.stack([transform(image) for image in images])
