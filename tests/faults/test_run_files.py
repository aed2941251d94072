"""A run folder's JSON that is truncated, not UTF-8 or of another shape, read by `compare`,
`replot`, `mlp --resume` (a sweep's partial file) and `lm --resume` (its training state): one line
naming the file and what to do, no traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import main
from sweeps import run as sweep_run

REPO = Path(__file__).resolve().parents[2]
SWEEP = "mlp_structures.json"


def damage(path: Path, how: str) -> None:
    """Write a damaged copy of reference/<path.name> at `path`."""
    good = (REPO / "reference" / path.name).read_bytes()
    if how == "truncated":
        path.write_bytes(good[: len(good) // 2])
    elif how == "not utf-8":
        path.write_bytes(b'{"caf\xe9": 1, ' + good.lstrip()[1:])
    elif how == "a list":
        path.write_text("[1, 2, 3]\n")
    else:  # its keys, with values of another type
        report = json.loads(good)
        report["runs"] = [1, 2] if "runs" in report else report.get("runs")
        report["history"] = {"train_loss": 3} if "history" in report else report.get("history")
        path.write_text(json.dumps(report))


def one_line(capsys, code: int, *needles) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "Traceback" not in err[0], err
    for needle in needles:
        assert str(needle) in err[0], err[0]
    return err[0]


HOWS = ["truncated", "not utf-8", "a list", "other values"]


@pytest.mark.parametrize("how", HOWS)
def test_compare_names_a_damaged_result_file(tmp_path, capsys, how):
    bad = tmp_path / SWEEP
    damage(bad, how)
    code = main.main(["compare", "--out-dir", str(tmp_path)])
    one_line(capsys, code, bad, "move it out of the folder")


@pytest.mark.parametrize("name", [SWEEP, "mlp_lm.json"])
@pytest.mark.parametrize("how", HOWS)
def test_replot_names_a_damaged_result_file(tmp_path, capsys, name, how):
    bad = tmp_path / name
    damage(bad, how)
    code = main.main(["replot", "--out-dir", str(tmp_path)])
    one_line(capsys, code, bad, "run the command that wrote it again")


@pytest.mark.parametrize("how", ["truncated", "not utf-8"])
def test_replot_reads_every_file_before_drawing_one(tmp_path, capsys, how):
    (tmp_path / "mlp_lm.json").write_bytes((REPO / "reference" / "mlp_lm.json").read_bytes())
    damage(tmp_path / SWEEP, how)
    one_line(capsys, main.main(["replot", "--out-dir", str(tmp_path)]), tmp_path / SWEEP)
    assert not list(tmp_path.glob("*.png"))


@pytest.mark.parametrize(
    "text", [b'{"sweep": "s", "jobs": {"a', b'{"jobs": "\xe9"}', b"[1]", b'{"jobs": [1]}']
)
def test_a_damaged_partial_file_is_one_note_and_its_runs_are_made_again(tmp_path, capsys, text):
    partial = tmp_path / "s.partial.json"
    partial.write_bytes(text)
    assert sweep_run._finished_jobs(partial, []) == {}
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(partial) in err[0] and "made again" in err[0], err


def test_lm_resume_from_a_state_of_another_shape_is_one_line(tiny_data_dir, tmp_path, capsys):
    ck = tmp_path / "ck"
    ck.mkdir()
    state = ck / "mlp_lm_quick.state.pt"
    torch.save({"model": {}, "epoch": 1}, state)
    folders = ["--data-dir", tiny_data_dir, "--out-dir", tmp_path / "o", "--ckpt-dir", ck]
    code = main.main(["lm", "--quick", "--resume", *map(str, folders)])
    one_line(capsys, code, state, "without --resume")
