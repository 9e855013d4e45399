"""The command line: exit codes and one-line errors, per-device skipping, experiment dispatch."""

from __future__ import annotations

import pytest
import torch

from dlplayground.cli import main


def test_absent_device_is_skipped_with_if_available(capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert main(["bench", "--device", "cuda", "--if-available"]) == 0
    assert "skipped: --device 'cuda' is not available on this machine" in capsys.readouterr().out


def test_absent_device_without_if_available_is_an_error(capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert main(["bench", "--device", "cuda"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --device 'cuda' is not available")
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["bench", "--models", "nope"], "unknown model 'nope'"),
        (["bench", "--batch-sizes", "-1"], "positive integer, got -1"),
        (["bench", "--dtype", "int8"], "not a dtype"),
        (["run", "no_such_study"], "unknown study 'no_such_study'"),
    ],
)
def test_bad_input_exits_2_with_one_line(capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_unwritable_results_folder_is_refused_before_running(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["bench", "--quick", "--models", "mlp", "-o", str(blocker / "sub" / "out.json")]) == 2
    assert "cannot be created" in capsys.readouterr().err


def test_bench_writes_results_atomically_and_reports(quick_bench):
    out = quick_bench.json_path
    assert out.is_file()
    assert [p.name for p in out.parent.iterdir()] == [out.name]  # no partial file left behind
    assert (quick_bench.report_dir / "index.html").is_file()
    # Shown as the user would write it: relative to the folder the command ran in.
    assert f"results written to {out.relative_to(out.parent.parent)}\n" in quick_bench.proc.stdout
