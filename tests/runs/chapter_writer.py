"""A stand-in for a chapter process, for the interruption tests: run as
``python chapter_writer.py RUN_ID CHAPTER GENERATION [PAUSE_S]``, it runs ``chapter_session`` around a
write phase that writes several artifacts of ``CHAPTER`` (tables, a text, a checkpoint-like file,
heatmaps), each holding ``GENERATION``, pausing ``PAUSE_S`` between writes so that a kill lands
in the middle. It prints ``done`` when the completion record is written."""
from __future__ import annotations

import sys
import time

import numpy as np
import pandas as pd

from tmvlib.artifacts import artifact_path, write_table, write_text
from tmvlib.atomic import atomic_write
from tmvlib.config import splits_dir
from tmvlib.data.store import save_splits
from tmvlib.runs import chapter_session

WRITES = {
    "01_data": None,  # save_splits
    "02_baseline": ["baseline_predictions", "baseline_metrics", "baseline_threshold", "baseline_checkpoint",
                    "shortcut_aurocs", "shortcut_control"],
    "04_gradcam": ["localization_gradcam", "sanity_gradcam", "explanations_gradcam", "regions_gradcam",
                   "explanations_prior", "permuted_label_checkpoint", "localization_coverage"],
}


def write_phase(run_id: str, chapter: str, generation: int, pause: float) -> None:
    frame = pd.DataFrame({"image_id": [f"i{k}" for k in range(50)], "generation": generation})
    if chapter == "01_data":
        splits = frame.assign(patient_id=[f"p{k}" for k in range(50)], split="train", label=[0, 1] * 25)
        time.sleep(pause)
        save_splits(run_id, splits, splits.head(5), pd.DataFrame({"step": ["x"], "images": [generation]}),
                    {"negatives": "no_finding", "generation": generation}, splits.tail(5))
        return
    for name in WRITES[chapter]:
        time.sleep(pause)
        path = artifact_path(run_id, name)
        if name.startswith("explanations_"):
            from tmvlib.explain.store import save_heatmaps  # imports torch: only where needed

            save_heatmaps(path, frame["image_id"], np.full((50, 8, 8), generation / 10, np.float32))
        elif path.suffix == ".pt":
            atomic_write(path, lambda tmp: tmp.write_bytes(bytes([generation]) * 100_000))
        elif path.suffix == ".txt":
            write_text(run_id, name, f"generation {generation}\n")
        else:
            write_table(run_id, name, frame)
    print("wrote", flush=True)


if __name__ == "__main__":
    run_id, chapter, generation = sys.argv[1], sys.argv[2], int(sys.argv[3])
    pause = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0
    assert splits_dir(run_id)  # the folders exist before the session starts
    with chapter_session(run_id, chapter, {"generation": generation}, command=f"writer {chapter} {generation}"):
        write_phase(run_id, chapter, generation, pause)
    print("done", flush=True)
