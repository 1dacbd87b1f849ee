import numpy as np
import torch

from tmvlib.card.reference import fit_input_reference, fit_input_reference_from_stats
from tmvlib.data.images import load_image
from tmvlib.data.tensors import intensity_stats, load_image_tensor
from tmvlib.models import gray_to_input
from tmvlib.models.fit import load_trained_classifier
from tmvlib.parallel import map_images
from tmvlib.stages import InputStatsStage


def test_input_stats_on_shards_equal_one_pass_and_fit_the_same_reference(trained):
    """Intensity statistics, file shapes and features gathered shard by shard equal those of the
    whole set at once (as the trust card's predictor computed them), and so does the reference."""
    folder, records = trained
    stage = InputStatsStage(folder / "model.pt", 32, str(folder / "input-features"), batch_size=8)
    rows = map_images(stage, records, folder / "input-stats", shard_size=16, executor="local", progress=False)
    features = stage.features(rows)

    images = load_image_tensor(records, 32, progress=False)
    model, info, _ = load_trained_classifier(folder / "model.pt")
    with torch.no_grad():
        whole = np.concatenate([model.eval().features(gray_to_input(images[i:i + 8], info)).numpy()
                                for i in range(0, len(images), 8)])
    means, stds = intensity_stats(images.numpy())
    shapes = [load_image(path).shape for path in records["path"]]
    np.testing.assert_array_equal(features, whole)
    np.testing.assert_array_equal(rows["intensity_mean"].to_numpy(), means)
    np.testing.assert_array_equal(rows["intensity_std"].to_numpy(), stds)
    assert [tuple(s) for s in rows[["height", "width"]].to_numpy()] == shapes
    assert rows["image_id"].tolist() == records["image_id"].tolist()

    val = slice(0, 12)
    direct = fit_input_reference(images.numpy(), shapes, whole, whole[val], 32, k=3)
    sharded = fit_input_reference_from_stats(rows["intensity_mean"], rows["intensity_std"],
                                             rows[["height", "width"]].to_numpy(), features, features[val], 32, k=3)
    for name, value in vars(direct).items():
        np.testing.assert_array_equal(np.asarray(getattr(sharded, name)), np.asarray(value), err_msg=name)
