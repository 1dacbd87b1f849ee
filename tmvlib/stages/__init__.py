"""Per-image analyses as shardable stages, run by :func:`tmvlib.parallel.map_images` in this
process or on a Ray cluster."""
from .base import CheckpointStage
from .explain import GradCAMStage, MapStage, ScoreCAMStage, SourceStabilityStage, TTAStabilityStage
from .predict import LogitsStage
from .reference import InputStatsStage

__all__ = ["CheckpointStage", "GradCAMStage", "InputStatsStage", "LogitsStage", "MapStage", "ScoreCAMStage",
           "SourceStabilityStage", "TTAStabilityStage"]
