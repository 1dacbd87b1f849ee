"""The trust card places an image by chapter 07's own rules: the TTA perturbations from chapter
06's params, the trust cell, the constant-map rule and the failure-mode flags are the shared
functions, and give what the card wrote before. Unit level: no run is loaded; the last test
builds a predictor by hand around a small seeded model."""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
import torch

from tmvlib.card import predictor as card
from tmvlib.card.inputs import Radiograph
from tmvlib.card.predictor import TrustCardPredictor, failure_mode_warning
from tmvlib.explain.perturbations import tta_perturbations, tta_perturbations_from_params
from tmvlib.explain.stability import stability_protocol_from_params
from tmvlib.explain.regions import EDGE_REGIONS, REGIONS
from tmvlib.tables.failure_modes import FAILURE_MODES, failure_mode_flags
from tmvlib.tables.trust_cells import is_confident, is_stable, trust_cell
from tmvlib.uncertainty.abstention import DeferralRule

CH06 = {"run_id": "r", "mc_samples": 2, "tta_count": 2, "tta_rotation": 5.0, "tta_translate": 0.04, "tta_scale": 0.05,
        "tta_brightness": 0.05, "tta_contrast": 0.1, "tta_gamma": 0.1, "tta_noise": 0.01, "top_k": 0.15,
        "metric_size": 32, "spearman_grid": 8, "scorecam_tta": 1, "scorecam_top_k": 8, "batch_size": 2,
        "n_boot": 10, "seed": 3}


def old_card_rules(uncertainty, instability, u_thr, i_thr, region, view, ood):
    """What the card computed inline before the rules were shared (the reference)."""
    confident = uncertainty <= u_thr
    stable = bool(np.isfinite(instability) and instability <= i_thr)
    cell = f"{'confident' if confident else 'uncertain'} · {'stable' if stable else 'unstable'}"
    flags = {"edge": region in EDGE_REGIONS, "ap": None if view is None else view == "AP",
             "unstable": not stable, "low_confidence": not confident, "external": bool(ood)}
    return confident, stable, cell, flags


@pytest.mark.parametrize("uncertainty, instability, view, ood", list(itertools.product(
    (0.1, 0.3, 0.45), (0.2, 0.5, 0.9, float("nan")), (None, "AP", "PA"), ([], ["far"]))))
def test_shared_rules_give_what_the_card_wrote(uncertainty, instability, view, ood):
    for region in [*REGIONS, "other"]:
        confident, stable, cell, flags = old_card_rules(uncertainty, instability, 0.3, 0.5, region, view, ood)
        assert is_confident(uncertainty, 0.3) == confident and is_stable(instability, 0.5) is stable
        assert trust_cell(is_confident(uncertainty, 0.3), is_stable(instability, 0.5)) == cell
        got = failure_mode_flags(region, view, stable, confident, external=bool(ood))
        assert got == flags and list(got) == list(flags)
        assert all(type(got[k]) is type(flags[k]) for k in flags)


def test_the_card_uses_the_shared_helpers():
    from tmvlib.tables import fitted

    # the card's cuts and cell rates are the validation fits every chapter uses
    assert card.validation_cuts is fitted.validation_cuts
    assert card.validation_cell_error_rates is fitted.validation_cell_error_rates
    assert tta_perturbations_from_params(CH06) == tta_perturbations(
        CH06["tta_count"], rotation=CH06["tta_rotation"], translate=CH06["tta_translate"], scale=CH06["tta_scale"],
        brightness=CH06["tta_brightness"], contrast=CH06["tta_contrast"], gamma=CH06["tta_gamma"],
        noise=CH06["tta_noise"], seed=CH06["seed"])


def failure_modes():
    """Rows as chapter 07 writes failure_modes.parquet: ``column`` is a FAILURE_MODES key."""
    rows = [{"mode": mode, "column": column, "status": "supported" if column in ("ap", "edge") else "not supported",
             "with_rate": 0.305, "with_low": 0.2, "with_high": 0.414, "without_rate": 0.1, "without_low": 0.052,
             "without_high": 0.15} for mode, column in FAILURE_MODES.items()]
    return pd.DataFrame(rows)


def test_warnings_for_supported_modes_that_apply():
    predictor = object.__new__(TrustCardPredictor)
    predictor.failure_modes = failure_modes()
    flags = failure_mode_flags("corners", "AP", stable=False, confident=True, external=True)
    warnings = predictor.failure_mode_warnings(flags)
    assert warnings == [
        "Failure mode 'heat peak on border/corners' applies: on NIH validation (chapter 07) the error rate was 30% [20%, 41%] with "
        "it vs 10% [5%, 15%] without.",
        "Failure mode 'AP view' applies: on NIH validation (chapter 07) the error rate was 30% [20%, 41%] with it vs 10% [5%, 15%] "
        "without."]
    assert predictor.failure_mode_warnings(failure_mode_flags("lung_proxy", None, True, True, False)) == []
    row = next(predictor.failure_modes.itertuples())
    assert failure_mode_warning(row) == (
        f"Failure mode '{row.mode}' applies: on NIH validation (chapter 07) the error rate was {row.with_rate:.0%} "
        f"[{row.with_low:.0%}, {row.with_high:.0%}] with it vs {row.without_rate:.0%} [{row.without_low:.0%}, "
        f"{row.without_high:.0%}] without.")


@pytest.fixture(scope="module")
def small_predictor():
    """A TrustCardPredictor put together by hand: a seeded efficientnet_lite0 as baseline and as
    its one other ensemble member, 64-px inputs, no input reference."""
    from tmvlib.models import build_classifier

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model, weights = build_classifier("efficientnet_lite0")
    model.eval()
    predictor = object.__new__(TrustCardPredictor)
    predictor.__dict__.update(
        run_id="r", model=model, weights=weights, config={"backbone": "efficientnet_lite0", "image_size": 64},
        others=[model], size=64, threshold_rule="youden", threshold=0.5, positive="Pneumonia",
        temperatures={"baseline": 1.0, "MC dropout": 1.0, "ensemble": 1.0}, ch03={"mc_samples": 2, "seed": 0},
        ch07={"max_flip_rate": 0.5},
        ch06=CH06, uncertainty_score="decision uncertainty", instability_score="instability (TTA)",
        uncertainty_threshold=0.3, instability_threshold=0.2, cell_errors={"confident · stable": {"rate": 0.1}},
        failure_modes=failure_modes(), perturbations=tta_perturbations_from_params(CH06), reference=None,
        protocol=stability_protocol_from_params(CH06, batch_size=2),
        scorecam=None, scorecam_top_k=None, batch_size=2,
        deferral=DeferralRule("decision uncertainty", "marginal", 0.25, 0.1, {"all": 2.0}), combined=None)
    return predictor


def test_predict_places_the_image_with_the_shared_rules(small_predictor):
    rng = np.random.default_rng(0)
    gray = (rng.random((80, 80)) * 255).astype(np.uint8)
    record = small_predictor.predict(Radiograph("x.png", gray, "PNG", "L", 8, 1, view="AP"), scorecam=False).record
    trust = record["trust"]
    confident = is_confident(trust["uncertainty"], 0.3, trust["scores"]["flip rate (TTA)"], 0.5)
    stable = is_stable(np.nan if trust["instability"] is None else trust["instability"], 0.2)
    assert (trust["confident"], trust["stable"]) == (confident, stable)
    assert trust["cell"] == trust_cell(confident, stable)
    assert trust["cell_error_rate_val"] == small_predictor.cell_errors.get(trust["cell"])
    flags = failure_mode_flags(record["explanation"]["gradcam_peak_region"], "AP", stable, confident, False)
    assert record["failure_mode_flags"] == flags
    assert record["stability"]["perturbations"]["TTA"] == CH06["tta_count"]
    expected = small_predictor.failure_mode_warnings(flags)
    assert [w for w in record["warnings"] if w.startswith("Failure mode")] == expected
    assert any(w.startswith("Failure mode 'AP view'") for w in record["warnings"])
    # the deferral rule (threshold 2: every in-distribution image is answered) and its guarantee
    assert record["deferral"]["decision"] == "answer" and not record["deferral"]["overridden"]
    assert record["deferral"]["score_value"] == pytest.approx(trust["uncertainty"])
    assert "the error rate among the answered images is at most 25% in the long run for" in \
        record["deferral"]["guarantee"]
