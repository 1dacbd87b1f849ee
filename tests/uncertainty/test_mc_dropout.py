import torch
from torch import nn

from tmvlib.models import build_classifier
from tmvlib.models.dropout_masks import keep_masks
from tmvlib.uncertainty.mc_dropout import mc_dropout_logits


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
    ids = ["a", "b", "c"]
    fast = mc_dropout_logits(model, features, ids, n_samples=5, seed=7)
    masks = keep_masks(ids, 5, features.shape[1], 0.3, seed=7)  # (N, T, F): each image its own
    original = model.dropout
    naive = []
    with torch.no_grad():
        for t in range(5):
            model.dropout = FixedMaskDropout(masks[:, t].float(), 0.3)
            naive.append(model(x))  # trunk and BatchNorm stay in eval mode
    model.dropout = original
    assert torch.allclose(fast, torch.stack(naive), atol=1e-4)


def test_samples_vary_and_are_reproducible_and_centred_on_the_deterministic_logit():
    torch.manual_seed(0)
    model, _ = build_classifier("efficientnet_lite0", weights="none", dropout=0.2)
    model.fc.weight.data.normal_()
    features = torch.rand(4, model.fc.in_features)
    ids = [f"i{k}" for k in range(4)]
    first = mc_dropout_logits(model, features, ids, n_samples=400, seed=1)
    assert torch.equal(first, mc_dropout_logits(model, features, ids, n_samples=400, seed=1))
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
    ours = mc_dropout_logits(model, features[:1], ["x"], n_samples=2000, seed=0)[:, 0]
    assert abs(torch_samples.mean() - ours.mean()) < 0.1 * ours.std()
    assert abs(torch_samples.std() - ours.std()) < 0.1 * ours.std()


def test_an_image_gets_its_own_masks_whatever_its_batch_chunk_or_neighbours():
    """The masks are keyed by the seed and the image id: the same image alone, in another
    order, in another chunk or with other neighbours gets the same samples; another id or seed
    gets others; fewer samples are the first of more."""
    torch.manual_seed(0)
    model, _ = build_classifier("efficientnet_lite0", weights="none", dropout=0.2)
    model.fc.weight.data.normal_()
    features = torch.rand(5, model.fc.in_features)
    ids = ["p1_a", "p1_b", "p2_a", "p3_a", "p4_a"]
    together = mc_dropout_logits(model, features, ids, n_samples=8, seed=3)
    alone = mc_dropout_logits(model, features[2:3], ids[2:3], n_samples=8, seed=3)
    chunked = mc_dropout_logits(model, features, ids, n_samples=8, seed=3, chunk=2)
    reversed_ = mc_dropout_logits(model, features.flip(0), ids[::-1], n_samples=8, seed=3).flip(1)
    assert torch.equal(together[:, 2], alone[:, 0]) and torch.equal(together, chunked)
    assert torch.allclose(together, reversed_)
    fewer = mc_dropout_logits(model, features, ids, n_samples=5, seed=3)
    assert torch.equal(fewer, together[:5])
    assert not torch.equal(mc_dropout_logits(model, features[:1], ["other"], n_samples=8, seed=3), together[:, :1])
    assert not torch.equal(mc_dropout_logits(model, features, ids, n_samples=8, seed=4), together)
    masks = keep_masks(ids, 200, 1280, 0.2, seed=0)
    assert masks.shape == (5, 200, 1280) and abs(masks.float().mean().item() - 0.8) < 0.01
