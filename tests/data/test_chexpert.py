import pandas as pd
import pytest

from tmvlib.data import DataError, build_binary_task, read_chexpert
from tmvlib.data.chexpert import CHEXPERT_FINDINGS


def make_chexpert(root, rows):
    """rows: (path, pneumonia value, sex); other findings blank."""
    root.mkdir(parents=True)
    frame = pd.DataFrame([{"Path": p, "Sex": s, "Age": 50, "Frontal/Lateral": "Frontal",
                           "AP/PA": "AP", "No Finding": None,
                           **{f: None for f in CHEXPERT_FINDINGS}, "Pneumonia": v}
                          for p, v, s in rows])
    frame.to_csv(root / "train.csv", index=False)
    return root


ROWS = [("CheXpert-v1.0-small/train/patient00001/study1/view1_frontal.jpg", 1.0, "Male"),
        ("CheXpert-v1.0-small/train/patient00002/study1/view1_frontal.jpg", -1.0, "Female"),
        ("CheXpert-v1.0-small/train/patient00003/study2/view1_frontal.jpg", None, "Female")]


@pytest.mark.parametrize("policy, expected", [
    ("u_zeros", ["Pneumonia", "No Finding", "No Finding"]),
    ("u_ones", ["Pneumonia", "Pneumonia", "No Finding"]),
    ("ignore", ["Pneumonia", "No Finding", "No Finding"]),
])
def test_uncertain_policies(tmp_path, policy, expected):
    records = read_chexpert(make_chexpert(tmp_path / "CheXpert-v1.0-small", ROWS), policy)
    assert records["findings"].tolist() == expected
    assert records["patient_id"].tolist() == ["patient00001", "patient00002", "patient00003"]
    assert records["sex"].tolist() == ["M", "F", "F"]


def test_ignore_policy_excludes_and_counts_uncertain_images_in_the_task(tmp_path):
    records = read_chexpert(make_chexpert(tmp_path / "CheXpert-v1.0-small", ROWS), "ignore")
    task, log = build_binary_task(records, views=None, min_source_width=None)
    assert "patient00002" not in set(task["patient_id"])
    assert log.to_frame().set_index("step").loc["uncertain label", "images"] == 1


def test_bad_values_and_policy_are_refused(tmp_path):
    root = make_chexpert(tmp_path / "c", [(ROWS[0][0], 2.0, "Male")])
    with pytest.raises(DataError, match=r"label values other than 1/0/-1/blank at rows \[2\]"):
        read_chexpert(root)
    with pytest.raises(ValueError, match="uncertain_policy"):
        read_chexpert(root, "maybe")
