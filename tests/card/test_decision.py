"""The card's decision (tmvlib.card.decision): answer below the certified threshold, defer above it,
defer an uncertified class and any out-of-distribution image."""
from tmvlib.card.decision import card_decision
from tmvlib.report.deferral import guarantee_text

from tmv_testing import MARGINAL, MONDRIAN


def test_card_answers_below_the_threshold_and_defers_above():
    answer = card_decision(MARGINAL, 0.1, 1, "Pneumonia", out_of_distribution=False)
    assert answer["decision"] == "answer" and answer["guarantee"] == guarantee_text(MARGINAL)
    assert card_decision(MARGINAL, 0.5, 1, "Pneumonia", False)["decision"] == "defer"


def test_out_of_distribution_overrides_an_answer():
    d = card_decision(MARGINAL, 0.1, 0, "Pneumonia", out_of_distribution=True)
    assert d["decision"] == "defer" and d["overridden"] and "out of distribution" in d["reason"]


def test_an_uncertified_class_is_always_deferred():
    d = card_decision(MONDRIAN, 0.01, 1, "Pneumonia", out_of_distribution=False)
    assert d["decision"] == "defer" and "no threshold certifies 'Pneumonia' calls" in d["reason"]
    assert card_decision(MONDRIAN, 0.01, 0, "Pneumonia", False)["decision"] == "answer"
