from tmvlib.report.wording import auroc_verdict, interval_overlap


def test_verdicts_follow_the_interval():
    assert auroc_verdict(0.47, 0.52).startswith("no better than chance")
    assert auroc_verdict(0.30, 0.45).startswith("worse than chance")
    assert auroc_verdict(0.80, 0.90) == "better than chance"


def test_overlap():
    assert interval_overlap(0.1, 0.5, 0.4, 0.9) and not interval_overlap(0.1, 0.3, 0.4, 0.9)


def test_subgroup_overlap_text():
    import pandas as pd

    from tmvlib.report.wording import subgroup_overlap_text

    table = pd.DataFrame({"view": ["AP", "PA"], "low": [0.7, 0.75], "high": [0.9, 0.95]})
    assert subgroup_overlap_text(table, "view", "PA", "AP").startswith("overlap")
    table.loc[1, ["low", "high"]] = [0.95, 0.99]
    assert subgroup_overlap_text(table, "view", "PA", "AP").startswith("do not overlap")
    table.loc[1, "low"] = float("nan")
    assert subgroup_overlap_text(table, "view", "PA", "AP").startswith("cannot be compared")
