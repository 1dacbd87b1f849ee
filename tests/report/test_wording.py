from tmvlib.report.wording import auroc_verdict


def test_verdicts_follow_the_interval():
    assert auroc_verdict(0.47, 0.52).startswith("no better than chance")
    assert auroc_verdict(0.30, 0.45).startswith("worse than chance")
    assert auroc_verdict(0.80, 0.90) == "better than chance"


def test_paired_text_of_a_difference_or_none():
    from tmvlib.metrics.paired import PairedDifference
    from tmvlib.report.wording import paired_text

    d = PairedDifference(0.1, 0.02, 0.18, 0.8, 0.7, 0.04, 0.01, 100, 0)
    assert paired_text(d, "PA", "AP", "AUROC", lower_is_better=False).startswith("PA has a higher AUROC than AP (better)")
    flat = PairedDifference(0.01, -0.07, 0.09, 0.8, 0.79, 0.04, 0.8, 100, 0)
    assert f"about {flat.minimum_detectable():.3f} or more" in paired_text(flat, "PA", "AP", "AUROC")
    assert paired_text(None, "PA", "AP", "AUROC") == "cannot be compared (a group lacks a class)"


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
    # an interval off zero that does not survive the family's correction claims no difference,
    # and says why: it is not "no measurable difference"
    held = difference_verdict(-0.012, -0.020, -0.001, "A", "B", "AURC", p_adjusted=0.12, mdd=0.015)
    assert held == ("no difference in AURC between A and B that survives the Holm correction "
                    "(-0.012 [-0.020, -0.001]: the interval excludes 0, but Holm-adjusted p = 0.120; "
                    "this sample detects differences of about 0.015 or more)")
    kept = difference_verdict(-0.012, -0.020, -0.001, "A", "B", "AURC", p_adjusted=0.01)
    assert kept.startswith("A has a lower AURC than B (better)") and "Holm-adjusted p = 0.010" in kept


def test_a_family_members_p_value_says_how_it_is_known():
    from tmvlib.report.wording import holm_text, p_details

    assert holm_text(0.012) == "Holm-adjusted p = 0.012"
    assert holm_text(0.04, "bootstrap", 0.0123) == "Holm-adjusted p = 0.040 (Monte Carlo error ±0.012)"
    assert holm_text(0.0004, "normal approximation", float("nan")) == (
        "Holm-adjusted p < 0.001 (normal approximation: no bootstrap draw crossed 0)")
    assert p_details({"p_holm": float("nan"), "p_method": "bootstrap"}) == {"p_adjusted": None}
    row = {"p_holm": 0.04, "p_method": "bootstrap", "p_holm_mc_error": 0.01}
    assert p_details(row) == {"p_adjusted": 0.04, "p_method": "bootstrap", "p_mc_error": 0.01}
