"""Uncertainty: MC dropout in the head, last-blocks ensembles on a shared frozen trunk, temperature
scaling, and per-image uncertainty scores."""
from .ensemble import EnsembleSpec, fit_ensemble, fit_fold_ensembles, member_logits
from .mc_dropout import mc_dropout_logits
from .scores import uncertainty_scores
from .temperature import fit_temperature, temperature_probs

__all__ = ["EnsembleSpec", "temperature_probs", "fit_ensemble", "fit_fold_ensembles", "fit_temperature",
           "mc_dropout_logits", "member_logits", "uncertainty_scores"]
