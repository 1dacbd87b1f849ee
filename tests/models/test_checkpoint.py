import json

import pytest
import torch

from tmvlib.models import build_classifier
from tmvlib.models.checkpoint import (CheckpointMismatch, config_hash, load_checkpoint,
                                      reusable_checkpoint, save_checkpoint)

CONFIG = {"backbone": "efficientnet_lite0", "lr": 0.001, "split_hash": "abc"}


@pytest.fixture(scope="module")
def model():
    return build_classifier("efficientnet_lite0", weights="none")[0]


def test_round_trip_gives_identical_outputs(model, tmp_path):
    torch.manual_seed(0)
    model.fc.weight.data.normal_()
    digest = save_checkpoint(model, tmp_path / "m.pt", CONFIG, {"best_epoch": 3})
    fresh = build_classifier("efficientnet_lite0", weights="none")[0]
    meta = load_checkpoint(fresh, tmp_path / "m.pt", expected_config=CONFIG)
    assert meta["sha256"] == digest and meta["record"] == {"best_epoch": 3}
    x = torch.randn(2, 3, 64, 64)
    assert torch.equal(model.eval()(x), fresh.eval()(x))
    assert reusable_checkpoint(tmp_path / "m.pt", CONFIG)
    assert not reusable_checkpoint(tmp_path / "m.pt", {**CONFIG, "lr": 0.01})


def test_config_hash_ignores_key_order():
    assert config_hash({"a": 1, "b": 2}) == config_hash({"b": 2, "a": 1})


def test_other_config_is_refused_naming_the_keys(model, tmp_path):
    save_checkpoint(model, tmp_path / "m.pt", CONFIG)
    with pytest.raises(CheckpointMismatch, match=r"m.pt was trained with another config; differing keys: \['lr'\]"):
        load_checkpoint(model, tmp_path / "m.pt", expected_config={**CONFIG, "lr": 0.1})


def test_changed_bytes_are_refused(model, tmp_path):
    save_checkpoint(model, tmp_path / "m.pt", CONFIG)
    data = bytearray((tmp_path / "m.pt").read_bytes())
    data[-10] ^= 0xFF
    (tmp_path / "m.pt").write_bytes(bytes(data))
    with pytest.raises(CheckpointMismatch, match="m.pt has sha256 .* the file was changed or is corrupt"):
        load_checkpoint(model, tmp_path / "m.pt")


def test_missing_files_are_named(model, tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.pt not found"):
        load_checkpoint(model, tmp_path / "nothing.pt")
    save_checkpoint(model, tmp_path / "m.pt", CONFIG)
    (tmp_path / "m.json").unlink()
    with pytest.raises(FileNotFoundError, match="m.json is missing"):
        load_checkpoint(model, tmp_path / "m.pt")


def test_truncated_checkpoint_with_matching_record_is_refused(model, tmp_path):
    from tmvlib.fingerprint import sha256_file

    save_checkpoint(model, tmp_path / "m.pt", CONFIG)
    (tmp_path / "m.pt").write_bytes((tmp_path / "m.pt").read_bytes()[:1000])
    meta = json.loads((tmp_path / "m.json").read_text())
    meta["sha256"] = sha256_file(tmp_path / "m.pt")  # as if the record had been forged to match
    (tmp_path / "m.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointMismatch, match="cannot be read"):
        load_checkpoint(model, tmp_path / "m.pt")


def test_trained_classifier_is_rebuilt_from_its_record(model, tmp_path):
    from tmvlib.models.fit import load_trained_classifier

    torch.manual_seed(1)
    model.fc.weight.data.normal_()
    config = {"backbone": "efficientnet_lite0", "weights": "none", "dropout": 0.3,
              "frozen_stages": 2, "weights_sha256": None}
    save_checkpoint(model, tmp_path / "b.pt", config)
    loaded, info, got = load_trained_classifier(tmp_path / "b.pt")
    assert got == config and not loaded.training and loaded.dropout.p == 0.3
    x = torch.randn(1, 3, 64, 64)
    assert torch.equal(model.eval()(x), loaded(x))
    save_checkpoint(model, tmp_path / "c.pt", {**config, "weights_sha256": "f" * 64})
    with pytest.raises(CheckpointMismatch, match="pretrained weights ffffffffffff"):
        load_trained_classifier(tmp_path / "c.pt")
