"""Per-image stages over image shards, in this process or on a Ray cluster, with the same results."""
from .executor import EXECUTORS, ImageStage, TaskPlacement, map_images, resolve_executor, run_tasks
from .shards import ShardError, ShardStore, ids_key, load_shard_arrays, plan_shards, save_shard_array

__all__ = ["EXECUTORS", "ImageStage", "ShardError", "TaskPlacement", "ShardStore", "ids_key", "load_shard_arrays", "map_images",
           "plan_shards", "resolve_executor", "run_tasks", "save_shard_array"]
