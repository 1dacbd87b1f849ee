from tmvlib.cli import predict


def test_unreadable_files_are_named_and_counted_before_any_model_loads(tmp_path, capsys):
    bad = tmp_path / "notes.png"
    bad.write_text("a text file")
    # the run does not exist: had the models been loaded first, this would raise instead
    assert predict([bad, tmp_path / "missing.jpg"], run_id="no-such-run") == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "not a readable image" in err and "missing.jpg: file not found" in err
