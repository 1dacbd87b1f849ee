"""One model per fold: the baseline recipe on each fold's training patients, nothing else changed."""
from functools import partial

import pandas as pd

from tmvlib.data.folds import assign_folds, role_sets
from tmvlib.data.tensors import select_images
from tmvlib.models.checkpoint import read_checkpoint_meta
from tmvlib.models.cross_fit import fit_fold_models, fold_checkpoint, fold_recipe
from tmvlib.models.recipe import ModelRecipe
from tmvlib.models.train import TrainConfig

from tmv_testing import toy_data

RECIPE = ModelRecipe("efficientnet_lite0", "auto", 32, 0.2, 6,
                     TrainConfig(epochs=1, batch_size=16, lr=3e-3, patience=5, augment=False, precision="fp32",
                                 channels_last=False), "baseline")


def folded_toy(n=96):
    images, labels = toy_data(n)
    # labels alternate 0, 1: images j and j + 2 share a label and a patient
    frame = pd.DataFrame({"image_id": [f"i{j:03d}" for j in range(n)],
                          "patient_id": [f"p{j % 2}-{j // 4:03d}" for j in range(n)], "label": labels})
    return frame, images


def test_each_fold_model_is_the_recipe_on_its_own_training_and_selection_patients(tmp_path):
    frame, images = folded_toy()
    folds = assign_folds(frame, k=3)
    sets = {f: role_sets(frame, folds, f, selection_share=0.3) for f in range(3)}
    fitted = fit_fold_models(RECIPE, sets, partial(select_images, images, frame["image_id"]), tmp_path, progress=False)
    assert list(fitted) == [0, 1, 2]
    baseline_key = RECIPE.key(fitted[0].weights)
    hashes = set()
    for fold, model in fitted.items():
        config = read_checkpoint_meta(fold_checkpoint(tmp_path, fold))["config"]
        assert {k: v for k, v in config.items() if k != "split_hash"} == \
            {k: v for k, v in baseline_key.items() if k != "split_hash"}
        assert config["split_hash"] == fold_recipe(RECIPE, sets[fold]).split_hash
        hashes.add(config["split_hash"])
        fitted_on = set(sets[fold]["training"]["patient_id"]) | set(sets[fold]["selection"]["patient_id"])
        assert not fitted_on & (set(sets[fold]["test"]["patient_id"]) | set(sets[fold]["calibration"]["patient_id"]))
    assert len(hashes) == 3
    again = fit_fold_models(RECIPE, sets, partial(select_images, images, frame["image_id"]), tmp_path, progress=False)
    assert all(m.reused for m in again.values())


def test_each_fold_ensemble_has_its_fold_model_as_member_0_and_trains_on_the_same_patients(tmp_path):
    from tmvlib.models.checkpoint import read_checkpoint_meta
    from tmvlib.uncertainty import EnsembleSpec, fit_fold_ensembles

    frame, images = folded_toy()
    folds = assign_folds(frame, k=3)
    sets = {f: role_sets(frame, folds, f, selection_share=0.3) for f in range(3)}
    take = partial(select_images, images, frame["image_id"])
    fit_fold_models(RECIPE, sets, take, tmp_path, progress=False)
    ensembles = fit_fold_ensembles(EnsembleSpec(2), RECIPE, sets, take, tmp_path, progress=False)
    for fold, members in ensembles.items():
        assert members[0].reused and members[0].checkpoint == fold_checkpoint(tmp_path, fold)
        config = read_checkpoint_meta(tmp_path / f"fold{fold}_ensemble_1.pt")["config"]
        assert config["split_hash"] == fold_recipe(RECIPE, sets[fold]).split_hash
        assert config["train"]["seed"] == RECIPE.train.seed + 1
