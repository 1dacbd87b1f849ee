"""TrainingData: the training images and the images that stop training early, as one object."""
import numpy as np
import pandas as pd
import pytest
import torch

from tmvlib.models.training_data import TrainingData


def test_from_roles_trains_on_the_training_role_and_stops_on_the_selection_role():
    roles = {"training": pd.DataFrame({"label": [0, 1, 1]}), "selection": pd.DataFrame({"label": [1, 0]}),
             "test": pd.DataFrame({"label": [0]})}
    images = {role: torch.full((len(rows), 1, 4, 4), k, dtype=torch.uint8)
              for k, (role, rows) in enumerate(roles.items())}
    data = TrainingData.from_roles(roles, images)
    assert data.train_images is images["training"] and data.val_images is images["selection"]
    np.testing.assert_array_equal(data.train_labels, [0, 1, 1])
    np.testing.assert_array_equal(data.val_labels, [1, 0])


def test_from_roles_refuses_images_and_labels_of_different_lengths():
    roles = {"training": pd.DataFrame({"label": [0, 1]}), "selection": pd.DataFrame({"label": [1]})}
    with pytest.raises(ValueError, match="train: 1 images but 2 labels"):
        TrainingData.from_roles(roles, {"training": torch.zeros(1, 1, 4, 4), "selection": torch.zeros(1, 1, 4, 4)})
