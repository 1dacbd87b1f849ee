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


def test_difference_verdict_on_each_side_of_zero():
    from tmvlib.report.wording import difference_verdict

    below = difference_verdict(-0.012, -0.020, -0.003, "combined", "confidence", "AURC")
    assert below.startswith("combined has a lower AURC than confidence (better)")
    above = difference_verdict(0.02, 0.01, 0.03, "combined", "confidence", "AURC")
    assert "higher AURC" in above and "(worse)" in above
    higher_better = difference_verdict(0.02, 0.01, 0.03, "A", "B", "AUROC", lower_is_better=False)
    assert "(better)" in higher_better
    none = difference_verdict(0.004, -0.01, 0.018, "combined", "confidence", "AURC", mdd=0.021)
    assert none.startswith("no measurable difference in AURC")
    assert "0.021 or more" in none
    # an interval off zero that does not survive the family's correction reads as no difference
    held = difference_verdict(-0.012, -0.020, -0.001, "A", "B", "AURC", p_adjusted=0.12)
    assert held.startswith("no measurable difference") and "Holm-adjusted p = 0.12" in held
