"""One radiograph through everything a run learned: the trust card's numbers and maps.

A :class:`TrustCardPredictor` loads, once, what chapters 02-08 of a run wrote (the baseline and
the ensemble members, the temperatures, the decision threshold, the trust-quadrant thresholds,
the failure modes and the input reference) and applies the same protocol to a new image as the
chapters applied to the test set: the quadrant scores come from
:func:`tmvlib.explain.stability.stability_by_source` and
:func:`tmvlib.tables.trust.image_trust_scores`, the functions chapter 06 uses, so a test image's
card reproduces its row of ``trust_scores.parquet`` (chapter 08 checks this). The rules that
place the image are chapter 07's own: the TTA perturbations
(:func:`tmvlib.explain.perturbations.tta_perturbations_from_params`), the trust cell and the
constant-map rule (:mod:`tmvlib.tables.trust_cells`), the failure-mode flags
(:func:`tmvlib.tables.failure_modes.failure_mode_flags`) and the deferral rule with its
guarantee (``deferral_rule.json``, :mod:`tmvlib.uncertainty.abstention`), which an
out-of-distribution input overrides (:func:`tmvlib.card.decision.card_decision`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from scipy.special import expit

from ..artifacts import (artifact_path, decision_threshold, deferral_rule, ensemble_checkpoints,
                         need_artifact, read_table, temperatures)
from ..config import declared_params
from ..contracts.scores import TTA_FLIP_RATE
from ..explain.geometry import peak_distance
from ..explain.regions import peak_region
from ..explain.scorecam import ScoreCAM
from ..explain.similarity import rank_correlation, stability_summary
from ..explain.stability import reduce_maps, stability_by_source, stability_protocol_from_params
from ..metrics.confidence import predicted_positive
from ..models.classifier import gray_to_input
from ..models.fit import load_trained_classifier
from ..models.train import predict_logits
from ..parallel import map_images
from ..report.wording import interval_text
from ..stages import InputStatsStage
from ..tables.endpoints import COMBINED, COMBINED_FEATURES
from ..tables.failure_modes import failure_mode_flags
from ..tables.fitted import fit_trust_score, validation_cell_error_rates, validation_cuts
from ..tables.trust import UNCERTAINTY_COLUMNS, image_trust_scores
from ..tables.trust_cells import INSTABILITY_COLUMNS, is_confident, is_stable, trust_cell
from ..uncertainty.abstention import DeferralRule
from ..uncertainty.mc_dropout import mc_dropout_logits
from ..uncertainty.scores import uncertainty_scores
from ..uncertainty.temperature import probability_logit, temperature_probs
from .decision import card_decision
from .inputs import Radiograph
from .reference import OOD, InputReference, fit_input_reference_from_stats, input_checks

CARD = "08_trust_card"  # the chapter whose contract declares what the card reads
DISCLAIMER = ("Research and education only. Not a medical device; no diagnostic claim. This card "
              "describes a research model's behaviour on one image and must not be used to make "
              "decisions about a patient.")


def card_dir(run_id: str):
    """``artifacts/runs/<run_id>/card/``: chapter 08's input reference."""
    return artifact_path(run_id, "card_reference")


@dataclass
class CardResult:
    """``record`` (JSON-ready numbers and text), ``gray`` the model input uint8 (S, S),
    ``gradcam`` / ``scorecam`` maps (S, S) in [0, 1]."""

    record: dict
    gray: np.ndarray
    gradcam: np.ndarray
    scorecam: np.ndarray


class TrustCardPredictor:
    """Everything a run learned, ready to make trust cards (see module doc).

    Build it with :meth:`from_run`. ``scorecam_top_k``: None for exact Score-CAM (as chapter 05),
    or the fast top-k path (as chapter 07); ``engine``: Score-CAM's forward engine
    (``tmvlib.models.engine``).
    """

    def __init__(self, run_id: str, reference: InputReference | None = None,
                 scorecam_top_k: int | None = None, batch_size: int = 8, engine: str = "auto"):
        self.run_id = run_id
        paths = ensemble_checkpoints(run_id)
        loaded = [load_trained_classifier(p) for p in paths]
        self.checkpoint = paths[0]
        self.model, self.weights, self.config = loaded[0]
        self.others = [m for m, _, _ in loaded[1:]]
        self.size = int(self.config["image_size"])
        self.threshold_rule, self.threshold = decision_threshold(run_id)
        self.temperatures = temperatures(run_id)
        self.positive = declared_params(run_id, CARD, "01_data")["positive"]
        self.ch03 = declared_params(run_id, CARD, "03_uncertainty")
        self.ch06 = declared_params(run_id, CARD, "06_stability")
        self.ch07 = declared_params(run_id, CARD, "07_trust_failures")
        # Everything the card shows is fitted on validation (tmvlib.tables.fitted); NIH test is
        # only evaluated.
        self.uncertainty_score = self.ch07["uncertainty_score"]
        self.instability_score = self.ch07["instability_score"]
        trust_scores = read_table(run_id, "trust_scores")
        self.uncertainty_threshold, self.instability_threshold = validation_cuts(
            trust_scores, self.uncertainty_score, self.instability_score,
            self.ch07["uncertainty_quantile"], self.ch07["instability_quantile"])
        self.deferral = DeferralRule.from_dict(deferral_rule(run_id))
        # the combined score as chapter 06 fitted it (validation rows), for a rule that defers by it
        self.combined = fit_trust_score(trust_scores, COMBINED_FEATURES) if self.deferral.score == COMBINED else None
        self.cell_errors = validation_cell_error_rates(read_table(run_id, "trust_quadrants"),
                                                       self.ch07["n_boot"], self.ch07["seed"])
        self.failure_modes = read_table(run_id, "failure_modes_val")
        self.protocol = stability_protocol_from_params(self.ch06, batch_size=batch_size)  # chapter 06's
        self.perturbations = self.protocol.perturbations
        self.reference = reference
        self.scorecam = ScoreCAM(self.model, top_k=scorecam_top_k, batch_size=8, engine=engine)
        self.scorecam_top_k = scorecam_top_k
        self.batch_size = batch_size

    @classmethod
    def from_run(cls, run_id: str, scorecam_top_k: int | None = None) -> TrustCardPredictor:
        """The predictor with chapter 08's input reference (raises naming chapter 08 if absent)."""
        folder = card_dir(run_id)
        need_artifact(folder / "reference.json", "08_trust_card")
        return cls(run_id, InputReference.load(folder), scorecam_top_k)

    # -- pieces ---------------------------------------------------------------------------
    def to_model_size(self, radiograph: Radiograph) -> torch.Tensor:
        """uint8 (1, 1, S, S): the input resized as the training images were."""
        from ..data.tensors import resize_gray

        return resize_gray(radiograph.gray, self.size)[None]

    @torch.no_grad()
    def features(self, images: torch.Tensor) -> np.ndarray:
        """uint8 (N, 1, S, S) -> (N, F) pooled features of the explained model."""
        out = [self.model.features(gray_to_input(images[i:i + self.batch_size], self.weights)).numpy()
               for i in range(0, len(images), self.batch_size)]
        return np.concatenate(out) if out else np.zeros((0, self.model.spec.feature_dim), np.float32)

    def calibrated(self, prob: float, method: str = "baseline") -> float:
        """P(positive) after the method's validation temperature (chapter 03)."""
        return float(temperature_probs(probability_logit(np.array([prob])), self.temperatures[method])[0])

    def fit_reference(self, k: int = 10, quantile: float = 0.95, executor: str = "local",
                      shard_size: int = 256) -> InputReference:
        """The input reference from this run's training and validation images (chapter 01's
        splits): intensity and file shape of the training images, features of both, gathered
        shard by shard by :class:`tmvlib.stages.InputStatsStage` (:meth:`input_stats`)."""
        from ..data.store import load_splits

        splits, _, _ = load_splits(self.run_id)
        (train, train_features), (_, val_features) = (
            self.input_stats(splits[splits["split"] == name], name, executor, shard_size) for name in ("train", "val"))
        return fit_input_reference_from_stats(train["intensity_mean"].to_numpy(), train["intensity_std"].to_numpy(),
                                              train[["height", "width"]].to_numpy(), train_features, val_features,
                                              self.size, k=k, quantile=quantile)

    def input_stats(self, records, name: str, executor: str = "local",
                    shard_size: int = 256) -> tuple[pd.DataFrame, np.ndarray]:
        """:class:`tmvlib.stages.InputStatsStage` of the explained model over ``records``
        (``image_id, path``), shard by shard under ``shards/input-stats/<name>`` of the run, in
        this process or on Ray (``executor``): ``(rows, features (N, F))`` in record order, the
        features equal to :meth:`features` of the decoded images when ``shard_size`` is a
        multiple of the batch size."""
        folder = artifact_path(self.run_id, "shards") / "input-stats"
        stage = InputStatsStage(str(self.checkpoint), self.size, str(folder / f"{name}-features"), self.batch_size)
        rows = map_images(stage, records, folder / name, shard_size, executor, progress=False)
        return rows, stage.features(rows)

    # -- the card -------------------------------------------------------------------------
    @torch.no_grad()
    def _uncertainty(self, features: torch.Tensor, member_probs: np.ndarray, image_id: str) -> dict:
        """MC dropout on the pooled ``features`` (1, F) with the masks chapter 03 draws for
        ``image_id`` (:mod:`tmvlib.models.dropout_masks`: a test image's card reproduces its row),
        and the last-blocks ensemble from ``member_probs`` (M,) (the explained model first), each
        with its temperature."""
        t = self.temperatures
        mc = mc_dropout_logits(self.model, features, [image_id], n_samples=int(self.ch03["mc_samples"]),
                               seed=int(self.ch03["seed"])).numpy()              # (T, 1)
        members = probability_logit(np.asarray(member_probs, dtype=np.float64))[:, None]  # (M, 1)
        mc_s = uncertainty_scores(mc, t["MC dropout"]).iloc[0]
        ens_s = uncertainty_scores(members, t["ensemble"]).iloc[0]
        mc_p, member_p = expit(mc[:, 0]), np.asarray(member_probs, dtype=np.float64)
        return {
            "mc_dropout": {"probability": float(mc_s["prob"]), "mutual_information": float(mc_s["mutual_information"]),
                           "sample_probs": mc_p.tolist(),
                           "samples": len(mc_p), "sample_range": [float(np.quantile(mc_p, 0.05)),
                                                                  float(np.quantile(mc_p, 0.95))],
                           "temperature": t["MC dropout"]},
            "ensemble": {"probability": float(ens_s["prob"]), "variance": float(member_p.var()),
                         "members": len(member_p), "member_range": [float(member_p.min()), float(member_p.max())],
                         "member_probs": member_p.tolist(),
                         "temperature": t["ensemble"]},
        }

    def predict(self, radiograph: Radiograph, image_id: str | None = None, scorecam: bool = True) -> CardResult:
        """The card for one decoded radiograph (see :func:`tmvlib.card.inputs.read_radiograph`).
        ``scorecam=False`` skips Score-CAM (its map is then all zeros and its fields None): for
        checks of the numbers only, not for a card that is shown."""
        image_id = image_id or radiograph.path
        images = self.to_model_size(radiograph)
        x = gray_to_input(images, self.weights)
        # The probability as chapter 02 computed it: the model in float32 (chapter 02's forward engine
        # computes the same function to float32 rounding), the same on every machine.
        prob = float(expit(predict_logits(self.model, self.weights, images, progress=False)[0]))
        self.model.to(memory_format=torch.contiguous_format)  # predict_logits made it channels_last
        with torch.no_grad():
            pooled = self.model.features(x)
        stability = stability_by_source(self.model, self.others, images, self.weights, np.array([prob]),
                                        self.threshold, [image_id], self.protocol)
        summary = stability_summary(stability.rows, by=["image_id", "source"])
        scores = image_trust_scores(pd.DataFrame({"image_id": [image_id], "prob": [prob]}), self.threshold,
                                    stability.sources["MC dropout"].probs, stability.sources["ensemble"].probs,
                                    summary).iloc[0]
        gradcam_map = stability.maps[0]
        scorecam_map = self.scorecam(x)[0] if scorecam else np.zeros_like(gradcam_map)
        checks = input_checks(radiograph, images[0, 0].numpy(), pooled[0].numpy(), self.reference) \
            if self.reference is not None else []
        uncertainty = float(scores[self.uncertainty_score])
        instability = float(scores[self.instability_score])
        confident = is_confident(uncertainty, self.uncertainty_threshold, float(scores[TTA_FLIP_RATE]),
                                 self.ch07["max_flip_rate"])
        stable = is_stable(instability, self.instability_threshold)  # a constant map (NaN) is unstable
        ood = [c for c in checks if c.fired and c.severity == OOD]
        cell = trust_cell(confident, stable)
        deferral_score = float(self.combined.score(scores.to_frame().T)[0] if self.combined is not None
                               else scores[self.deferral.score])
        positive = bool(predicted_positive(prob, self.threshold))
        deferral = card_decision(self.deferral, deferral_score, int(positive), self.positive,
                                 out_of_distribution=bool(ood))
        # the peak at chapter 06's metric size, the rule chapter 07 tested the mode with
        gradcam_peak = peak_region(reduce_maps(gradcam_map, self.protocol.metric_size))
        flags = failure_mode_flags(gradcam_peak, radiograph.view, stable, confident, external=bool(ood))
        calibrated = self.calibrated(prob)
        record = {
            "image_id": image_id, "run_id": self.run_id, "input": radiograph.describe(),
            "status": "out of distribution" if ood else "in distribution",
            "task": f"{self.positive} vs no {self.positive}",
            "model": {"backbone": self.config["backbone"], "weights": self.weights.describe(),
                      "image_size": self.size},
            "prediction": {
                "probability": calibrated, "probability_uncalibrated": prob,
                "temperature": self.temperatures["baseline"],
                "threshold": self.calibrated(self.threshold), "threshold_uncalibrated": self.threshold,
                "threshold_rule": self.threshold_rule,
                "label": self.positive if positive else f"no {self.positive}",
                **self._uncertainty(pooled, np.r_[prob, stability.sources["ensemble"].probs[0]], image_id)},
            "explanation": {
                "gradcam_peak_region": gradcam_peak,
                **(self._agreement(gradcam_map, scorecam_map) if scorecam else
                   dict.fromkeys(("scorecam_peak_region", "scorecam", "methods_spearman", "methods_peak_distance")))},
            "stability": {
                "score": self.instability_score,
                "stability": None if not np.isfinite(instability) else 1 - instability,
                **{k: _float(scores[k]) for k in scores.index if k.startswith(("instability", "flip rate"))},
                "tta_probs": stability.sources["TTA"].probs[0].tolist(),
                "perturbations": {"MC dropout": self.protocol.mc_samples, "ensemble": len(self.others),
                                  "TTA": len(self.perturbations)}},
            "trust": {
                "uncertainty_score": self.uncertainty_score, "uncertainty": uncertainty,
                "uncertainty_threshold": self.uncertainty_threshold, "confident": bool(confident),
                "instability_score": self.instability_score, "instability": _float(instability),
                "instability_threshold": self.instability_threshold, "stable": stable, "cell": cell,
                "cell_error_rate_val": self.cell_errors.get(cell),
                "scores": {k: _float(scores[k]) for k in scores.index if k != "image_id"}},
            "deferral": deferral,
            "checks": [vars(c) | {"value": _float(c.value), "high": _float(c.high)} for c in checks],
            "warnings": [f"Out of distribution: {c.message}." for c in ood]
                        + [f"Note: {c.message}." for c in checks if c.fired and c.severity != OOD]
                        + self.failure_mode_warnings(flags),
            "failure_mode_flags": flags,
            "disclaimer": DISCLAIMER,
        }
        return CardResult(record, images[0, 0].numpy(), gradcam_map, scorecam_map)

    def _agreement(self, gradcam_map: np.ndarray, scorecam_map: np.ndarray) -> dict:
        size = int(self.ch06["metric_size"])
        return {"scorecam_peak_region": peak_region(scorecam_map),
                "scorecam": "exact" if self.scorecam_top_k is None else f"top-{self.scorecam_top_k}",
                "methods_spearman": rank_correlation(reduce_maps(gradcam_map, size), reduce_maps(scorecam_map, size),
                                                     grid=(int(self.ch06["spearman_grid"]),) * 2),
                "methods_peak_distance": peak_distance(gradcam_map, scorecam_map)}

    def failure_mode_warnings(self, flags: dict) -> list[str]:
        """A sentence for each failure mode that chapter 07 supported on validation and that applies here
        (``flags``: :func:`tmvlib.tables.failure_modes.failure_mode_flags`, keyed like the
        ``column`` of ``failure_modes.parquet``)."""
        return [failure_mode_warning(r) for r in self.failure_modes.itertuples()
                if r.status == "supported" and flags.get(r.column)]


def failure_mode_warning(mode) -> str:
    """The card's warning for one supported failure mode (a ``failure_modes.parquet`` row with
    ``mode, with_rate, with_low, with_high, without_rate, without_low, without_high``): the
    error rates with and without it in chapter 07, as percentages with their intervals."""
    with_it = interval_text(mode.with_rate, mode.with_low, mode.with_high, digits=0, percent=True)
    without = interval_text(mode.without_rate, mode.without_low, mode.without_high, digits=0, percent=True)
    return (f"Failure mode '{mode.mode}' applies: on NIH validation (chapter 07) the error rate was {with_it} with "
            f"it vs {without} without.")


def _float(value):
    value = float(value)
    return value if np.isfinite(value) else None


TRUST_SCORE_COLUMNS = ("prob", *UNCERTAINTY_COLUMNS, *INSTABILITY_COLUMNS)


def card_scores(record: dict) -> dict[str, float]:
    """The card's values under the column names of chapter 06's ``trust_scores.parquet`` (to
    check that a test image's card reproduces its row)."""
    return {c: record["trust"]["scores"][c] for c in TRUST_SCORE_COLUMNS}
