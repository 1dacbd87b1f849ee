import pytest

from tmvlib.cli import predict


def test_unreadable_files_are_named_and_counted_before_any_model_loads(tmp_path, capsys):
    bad = tmp_path / "notes.png"
    bad.write_text("a text file")
    # the run does not exist: had the models been loaded first, this would raise instead
    assert predict([bad, tmp_path / "missing.jpg"], run_id="no-such-run") == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "not a readable image" in err and "missing.jpg: file not found" in err


def test_a_decompression_bomb_gets_a_line_and_the_next_file_is_still_read(tmp_path, capsys):
    from tmv_testing import png_declaring

    bomb = png_declaring(tmp_path / "bomb.png", 20_000, 20_000)
    assert predict([bomb, tmp_path / "missing.jpg"], run_id="no-such-run") == 2
    err = capsys.readouterr().err
    assert "bomb.png" in err and "pixels" in err and "missing.jpg: file not found" in err


@pytest.mark.slow
def test_a_batch_with_bad_files_mixed_in_cards_every_good_file_with_flat_memory(tmp_path, shared_data, capsys):
    """``tmv predict`` over 200 files, a fifth of them good: every good file gets a card, every bad
    one a line naming it, the exit status says how many failed (capped at 63), and the peak
    memory after the last card is close to the peak after the first (reported). Needs the ``ci``
    run, which ``make test`` builds in ``tests/notebooks/`` before this file runs."""
    import re
    import subprocess
    import sys

    from tmv_testing import png_declaring, require_ci_run

    require_ci_run()
    good = sorted((shared_data / "nih14" / "images").glob("*.jpg"))[:40]
    bad = []
    for k in range(160):
        path = tmp_path / "in" / f"bad_{k:03d}{['.png', '.jpg', '.png', '.dcm', '.png'][k % 5]}"
        path.parent.mkdir(exist_ok=True)
        kind = k % 5
        if kind == 0:
            path.write_bytes(b"")                                   # empty
        elif kind == 1:
            path.write_bytes(good[k % len(good)].read_bytes()[:500])  # truncated JPEG
        elif kind == 2:
            png_declaring(path, 20_000, 20_000)                     # decompression bomb
        elif kind == 3:
            path.write_bytes(b"not a dicom")                        # broken DICOM
        else:
            path = tmp_path / "in" / f"missing_{k}.png"            # missing
        bad.append(path)
    files = [str(p) for k, path in enumerate(bad) for p in ([good[k // 4]] if k % 4 == 0 else []) + [path]]
    out = tmp_path / "cards"
    done = subprocess.run([sys.executable, "-m", "tmvlib.cli", "predict", *files, "--run", "ci", "--out", str(out),
                           "--scorecam-top-k", "8"], capture_output=True, text=True, timeout=900)
    assert done.returncode == 63, done.stderr[-2000:]  # 160 failed, capped
    assert sorted(p.stem for p in out.glob("*.json")) == sorted(p.stem for p in good)
    assert all((out / f"{p.stem}.html").is_file() and (out / f"{p.stem}.png").is_file() for p in good)
    for path in bad:
        assert re.search(rf"no card: .*{re.escape(str(path))}", done.stderr), path
    summary = re.search(r"(\d+) card\(s\) written, (\d+) file\(s\) without a card; peak memory (\d+) MB "
                        r"\((\d+) MB after the first card\)", done.stderr)
    assert summary and summary.group(1, 2) == ("40", "160"), done.stderr[-500:]
    peak, first = int(summary.group(3)), int(summary.group(4))
    with capsys.disabled():
        print(f"\n[tmv predict, 40 cards + 160 bad files] peak RSS {peak} MB, {first} MB after the first card")
    assert peak - first < 200, (peak, first)


def test_a_kermany_image_out_of_distribution_is_deferred_whatever_the_rule(tmp_path):
    """The card's deferral decision: an external image that chapter 08's check flags is deferred,
    and the card says the check overrode the rule. Needs the complete ``ci`` run."""
    import json
    from pathlib import Path

    from tmv_testing import require_ci_run

    from tmvlib.artifacts import baseline_predictions, read_table

    require_ci_run()
    flags = read_table("ci", "ood_flags")
    flagged = flags[(flags["set"] == "external") & flags["flagged"]].sort_values("feature distance")["image_id"]
    assert len(flagged), "the ci run flags no external image"
    paths = baseline_predictions("ci").drop_duplicates("image_id").set_index("image_id")["path"]
    image = Path(paths[flagged.iloc[-1]])
    assert predict([image], run_id="ci", out=tmp_path, scorecam_top_k=8) == 0
    record = json.loads(next(tmp_path.glob("*.json")).read_text())
    assert record["status"] == "out of distribution"
    assert record["deferral"]["decision"] == "defer" and record["deferral"]["overridden"]
    assert "DEFER" in (tmp_path / f"{next(tmp_path.glob('*.json')).stem}.html").read_text()


def test_a_run_that_is_not_where_it_looked_is_named_and_nothing_is_created(tmp_path, shared_data, monkeypatch,
                                                                           capsys):
    """From a folder whose project has no such run: exit 66, naming the run folder, the project
    folder, how it was found and how to point tmv elsewhere; no folder or lock is left behind."""
    from tmvlib.cli import main

    project = tmp_path / "project"
    (project / "params").mkdir(parents=True)
    (project / "_toc.yml").write_text("root: intro\n")
    image = sorted((shared_data / "nih14" / "images").glob("*.jpg"))[0]
    monkeypatch.chdir(project)
    monkeypatch.delenv("TMV_ROOT", raising=False)
    monkeypatch.delenv("TMV_ARTIFACTS", raising=False)
    with pytest.raises(SystemExit) as done:
        main(["predict", str(image), "--run", "default"])
    err = capsys.readouterr().err
    assert done.value.code == 66
    assert f"no run 'default' at {project / 'artifacts' / 'runs' / 'default'}" in err
    assert f"the project folder is {project} (found upwards from {project})" in err
    assert "--root DIR or TMV_ROOT=DIR" in err
    assert not (project / "artifacts").exists()  # a reading command creates nothing


@pytest.mark.slow
def test_predict_from_outside_the_project_finds_the_installed_checkout(tmp_path, shared_data, monkeypatch):
    """``cd ~/scans && tmv predict a.png --run ci``: the project is the checkout tmvlib is installed
    from (or --root), not the current folder. Needs the ci run (make test builds it first)."""
    import subprocess
    import sys
    from pathlib import Path

    import tmvlib
    from tmv_testing import require_ci_run

    require_ci_run()
    scans = tmp_path / "scans"
    scans.mkdir()
    image = sorted((shared_data / "nih14" / "images").glob("*.jpg"))[0]
    env = {k: v for k, v in __import__("os").environ.items() if k not in ("TMV_ROOT", "TMV_ARTIFACTS")}
    checkout = Path(tmvlib.__file__).resolve().parents[1]
    for extra in ([], ["--root", str(checkout)]):
        done = subprocess.run([sys.executable, "-m", "tmvlib.cli", "predict", str(image), "--run", "ci",
                               "--out", str(tmp_path / "cards"), "--scorecam-top-k", "16", *extra],
                              cwd=scans, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
        assert (tmp_path / "cards" / f"{image.stem}.json").is_file()
    assert list(scans.iterdir()) == []  # nothing written where it was called from
