"""Orchestration: the runs that train models, send per-image stages over shards (in this process
or on Ray) and call the table builders on what comes back. The layers below compute; this one
schedules (chapter 02's fold models, chapter 06's stability over shards, chapter 09's replicates)."""
from .cross_fit import score_fold_roles, score_shortcut_folds
from .replication import ReplicateEvaluation, replicate_rows, run_replication
from .stability import StabilityRun, fold_stability_on_shards, same_stability_inputs, stability_by_set_on_shards

__all__ = ["ReplicateEvaluation", "StabilityRun", "fold_stability_on_shards", "replicate_rows", "run_replication",
           "same_stability_inputs", "score_fold_roles", "score_shortcut_folds", "stability_by_set_on_shards"]
