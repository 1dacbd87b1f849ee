import pytest

from tmvlib.data import DataError, build_binary_task, read_nih


def test_no_finding_negatives_exclude_other_findings_and_count_them(nih_root):
    task, log = build_binary_task(read_nih(nih_root), "Pneumonia", "no_finding",
                                  views=["PA", "AP"], min_source_width=1024)
    assert sorted(task["image_id"]) == ["00000001_000", "00000001_001", "00000002_000",
                                        "00000004_000", "00000006_000"]
    assert task.set_index("image_id")["label"].to_dict()["00000001_001"] == 1
    counts = log.to_frame().set_index("step")["images"].to_dict()
    assert counts == {"view filter": 0, "resolution filter": 1, "uncertain label": 0,
                      "negative definition": 1}


def test_all_negatives_keeps_other_findings(nih_root):
    task, _ = build_binary_task(read_nih(nih_root), "Pneumonia", "all", min_source_width=1024)
    assert task.set_index("image_id").loc["00000003_000", "label"] == 0


def test_view_filter_and_no_resolution_filter(nih_root):
    task, log = build_binary_task(read_nih(nih_root), views=["PA"], min_source_width=None)
    assert set(task["view"]) == {"PA"}
    assert log.to_frame().set_index("step").loc["view filter", "images"] == 2
    assert "resolution filter" not in set(log.to_frame()["step"])


def test_every_record_is_kept_or_counted(nih_root):
    records = read_nih(nih_root)
    task, log = build_binary_task(records, views=["PA"])
    assert len(task) + log.to_frame()["images"].sum() == len(records)


def test_unknown_positive_is_refused_with_the_known_findings(nih_root):
    with pytest.raises(DataError, match=r"unknown positive finding 'Covid'.*Pneumonia"):
        build_binary_task(read_nih(nih_root), positive="Covid")


def test_task_that_keeps_nothing_is_refused(nih_root):
    with pytest.raises(DataError, match="keeps no image"):
        build_binary_task(read_nih(nih_root), views=["LL"])
