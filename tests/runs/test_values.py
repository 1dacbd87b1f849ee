"""Which chapter writes a file of a run folder (the registry's paths and globs)."""
from tmvlib.runs.values import chapter_of


def test_a_glob_names_only_the_files_it_matches():
    assert chapter_of("checkpoints/fold_0.json") == "02_baseline"
    assert chapter_of("checkpoints/fold0_ensemble_1.json") == "03_uncertainty"
    assert chapter_of("checkpoints/ensemble_2.pt") == "03_uncertainty"
    assert chapter_of("checkpoints/baseline.json") == "02_baseline"
    assert chapter_of("splits/splits.parquet") == "01_data"
    assert chapter_of("metrics/no_such_table.csv") == "?"
