import torch
from torch import nn

from tmvlib.models import build_classifier
from tmvlib.uncertainty.mc_dropout import feature_keep_masks, mc_dropout_logits


class FixedMaskDropout(nn.Module):
    """Dropout in 'train' behaviour with a given keep-mask, to replay masks in a full pass."""

    def __init__(self, mask: torch.Tensor, p: float):
        super().__init__()
        self.mask, self.p = mask, p

    def forward(self, x):
        return x * self.mask / (1 - self.p)


def test_head_only_sampling_equals_full_forward_passes_with_the_same_masks():
    torch.manual_seed(0)
    model, _ = build_classifier("efficientnet_lite0", weights="none", dropout=0.3)
    model.eval()
    model.fc.weight.data.normal_()
    x = torch.randn(3, 3, 64, 64)
    with torch.no_grad():
        features = model.features(x)
    fast = mc_dropout_logits(model, features, n_samples=5, seed=7)
    masks = feature_keep_masks(5, 3, features.shape[1], 0.3, seed=7)  # chunk 0 uses seed + 0
    original = model.dropout
    naive = []
    with torch.no_grad():
        for t in range(5):
            model.dropout = FixedMaskDropout(masks[t].float(), 0.3)
            naive.append(model(x))  # trunk and BatchNorm stay in eval mode
    model.dropout = original
    assert torch.allclose(fast, torch.stack(naive), atol=1e-4)


def test_samples_vary_and_are_reproducible_and_centred_on_the_deterministic_logit():
    torch.manual_seed(0)
    model, _ = build_classifier("efficientnet_lite0", weights="none", dropout=0.2)
    model.fc.weight.data.normal_()
    features = torch.rand(4, model.fc.in_features)
    first = mc_dropout_logits(model, features, n_samples=400, seed=1)
    assert torch.equal(first, mc_dropout_logits(model, features, n_samples=400, seed=1))
    assert first.std(0).min() > 0
    deterministic = model.eval().head(features)
    assert torch.allclose(first.mean(0), deterministic, atol=0.25 * first.std(0).max())


def test_real_nn_dropout_in_train_mode_matches_the_distribution():
    """nn.Dropout with the same p gives logits of the same mean (sanity check of the scaling)."""
    torch.manual_seed(0)
    model, _ = build_classifier("efficientnet_lite0", weights="none", dropout=0.5)
    model.fc.weight.data.normal_()
    features = torch.rand(1, model.fc.in_features).expand(2000, -1)
    model.dropout.train()
    with torch.no_grad():
        torch_samples = model.head(features)
    ours = mc_dropout_logits(model, features[:1], n_samples=2000, seed=0)[:, 0]
    assert abs(torch_samples.mean() - ours.mean()) < 0.1 * ours.std()
    assert abs(torch_samples.std() - ours.std()) < 0.1 * ours.std()
