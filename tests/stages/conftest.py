"""A tiny trained classifier and 40 image files, shared by the stage tests."""
import pandas as pd
import pytest
from PIL import Image

from tmvlib.models.fit import fit_or_load

from tmv_testing import toy_data, toy_recipe, toy_training_data


@pytest.fixture(scope="session")
def trained(tmp_path_factory):
    """(folder with model.pt at 32 px and img00..img39.png, records ``image_id, path``)."""
    folder = tmp_path_factory.mktemp("stage")
    fit_or_load(folder / "model.pt", toy_recipe(), toy_training_data(), progress=False)
    rows = []
    for k, image in enumerate(toy_data(40, seed=2)[0]):
        path = folder / f"img{k:02d}.png"
        Image.fromarray(image[0].numpy()).save(path)
        rows.append({"image_id": f"img{k:02d}", "path": str(path)})
    return folder, pd.DataFrame(rows)
