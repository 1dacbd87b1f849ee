"""The words of a deferral rule (tmvlib.report.deferral): the guarantee, the thresholds, the checks
over re-splits and on the external set."""
from dataclasses import replace

import pandas as pd

from tmvlib.report.deferral import (calibration_text, coverage_text, external_text, guarantee_text,
                                    ood_rescue_text, threshold_text, violation_text)

from tmv_testing import MARGINAL, MONDRIAN


def test_guarantee_states_target_confidence_and_population():
    assert guarantee_text(MARGINAL) == (
        "with probability at least 90% over the draw of the calibration images, the error rate among the answered "
        "images is at most 20% in the long run for images exchangeable with the NIH validation images (a long-run "
        "rate over many such images, not a promise about any one image or batch)")
    per_patient = replace(MARGINAL, unit="patient", set_aside=12)
    assert guarantee_text(per_patient) == (
        "with probability at least 90% over the draw of the calibration patients, the error rate among the answered "
        "images is at most 20% in the long run for new patients exchangeable with the NIH validation patients, one "
        "image each (a long-run rate over many such images, not a promise about any one image or batch)")
    picked = guarantee_text(replace(per_patient, target_chosen="price list"))
    assert picked.endswith("the 20% target was picked from the price list after seeing these validation images, "
                           "so the formal guarantee does not cover it (the re-split check is the evidence)")
    mondrian = guarantee_text(MONDRIAN.to_dict())
    assert "positive calls" in mondrian and "for both classes together" in mondrian and "is each at most" in mondrian
    assert "guaranteed" not in guarantee_text(MARGINAL)


def test_thresholds_and_calibration_in_words():
    assert threshold_text(MARGINAL) == "decision uncertainty <= 0.30"
    assert threshold_text(MONDRIAN).startswith("positive calls: none certified (always deferred); negative")
    assert calibration_text(MARGINAL) == "answers 50 of the 161 (4 of them wrong) validation images"
    assert calibration_text(replace(MARGINAL, unit="patient", set_aside=12)) == (
        "answers 50 of the 161 (4 of them wrong) validation images (one per patient; 12 further images of the "
        "same patients set aside)")


def _outcomes(events_cov, n, err, err_events):
    return pd.DataFrame([{"quantity": "coverage", "value": events_cov / n, "low": 0.1, "high": 0.6, "n": n,
                          "events": events_cov},
                         {"quantity": "error among answered", "value": err, "low": err - 0.05, "high": err + 0.05,
                          "n": events_cov, "events": err_events}])


def test_coverage_and_external_verdicts():
    assert coverage_text(_outcomes(0, 10, float("nan"), 0)) == "answers none of the 10 images (defers all)"
    assert "1 error)" in coverage_text(_outcomes(10, 40, 0.1, 1))
    assert "above the 20% target: the guarantee does not hold here" in external_text(_outcomes(10, 40, 0.4, 4), 0.2)
    assert "below the 20% target" in external_text(_outcomes(10, 40, 0.05, 0), 0.2)


def test_violation_text_compares_with_delta():
    row = {"rate": 0.03, "low": 0.02, "high": 0.04, "violations": 30, "draws": 1000}
    assert violation_text(row, 0.1).endswith("within the 10% the guarantee allows")
    assert "above the 10%" in violation_text({**row, "rate": 0.2}, 0.1)


def test_ood_rescue_text_reports_the_excess_removed():
    rescue = pd.DataFrame([
        {"stage": "rule alone", "quantity": "coverage", "value": 0.5, "low": 0.4, "high": 0.6, "n": 20, "events": 10,
         "wrong_answered": 4},
        {"stage": "rule alone", "quantity": "error among answered", "value": 0.4, "low": 0.2, "high": 0.6, "n": 10,
         "events": 4, "wrong_answered": 4},
        {"stage": "after the check", "quantity": "coverage", "value": 0.25, "low": 0.1, "high": 0.4, "n": 20,
         "events": 5, "wrong_answered": 1},
        {"stage": "after the check", "quantity": "error among answered", "value": 0.2, "low": 0.0, "high": 0.4,
         "n": 5, "events": 1, "wrong_answered": 1}])
    text = ood_rescue_text(rescue, 0.2, guaranteed=False)
    assert "answers 10 images (4 wrong)" in text and "removes 100% of the excess over the 20% target" in text


def test_a_rule_that_certifies_nothing_says_what_it_would_need():
    from dataclasses import replace

    from tmvlib.report.deferral import certification_text

    nothing = replace(MARGINAL, thresholds={"all": None})
    needed = pd.DataFrame({"patients": [100, 400, 800], "multiple": [1.0, 4.0, 8.0], "certified": [0.1, 0.85, 1.0],
                           "coverage": [0.0, 0.2, 0.3], "enough": [False, True, True]})
    nearest = {"max_error": 0.3, "threshold": "decision uncertainty <= 0.40", "coverage": 0.35}
    text = certification_text(nothing, needed, nearest)
    assert text.startswith("No threshold is certified at the 20% target with these 100 validation patients.")
    assert "about 400 patients (4 times as many) would certify it in 85% of simulated calibration sets" in text
    assert "The smallest target of the price list these images certify is 30%" in text
    hopeless = certification_text(nothing, needed.assign(enough=False, certified=[0.0, 0.1, 0.3]), None)
    assert "even 800 patients (8 times as many) certify it in only 30% of simulated calibration sets" in hopeless
    assert hopeless.endswith("No target of the price list is certified by these images.")
    assert certification_text(MARGINAL, needed, None).startswith("The rule certifies its 20% target")


def test_whether_a_larger_calibration_share_would_certify_the_deployed_rule():
    from dataclasses import replace

    from tmvlib.report.deferral import calibration_share_text

    nothing = replace(MARGINAL, thresholds={"all": None})
    needed = pd.DataFrame({"patients": [100, 200, 400], "multiple": [1.0, 2.0, 4.0], "certified": [0.1, 0.85, 1.0],
                           "coverage": [0.0, 0.2, 0.3], "enough": [False, True, True]})
    easy = calibration_share_text(nothing, needed, folded_patients=500, folds=5)
    assert "one of 5 folds (100 patients); about 200 would be needed, 40% of the 500" in easy
    assert easy.endswith("a larger calibration share is worth giving the deployed model.")
    costly = calibration_share_text(nothing, needed.assign(enough=[False, False, True]), 500, 5)
    assert "4 of the 5 folds, leaving 1 to train and select the model instead of 3" in costly
    assert "every fold" in calibration_share_text(nothing, needed.assign(enough=[False, False, True]), 300, 3)
    assert "would not help" in calibration_share_text(nothing, needed.assign(enough=False), 500, 5)
    assert calibration_share_text(MARGINAL, needed, 500, 5).startswith("One calibration fold (100 patients)")
    assert "a larger validation split" in calibration_share_text(nothing, needed, 100, 1)  # cross_fit: false
