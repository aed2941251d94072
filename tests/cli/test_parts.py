"""`python main.py` (command `all`) as parts under one status line (cli/parts.py), and a resumed
`all` that keeps every part finished before (issue 36, points 4 and 8). The parts are replaced by
stand-ins that write what the real ones write (a sweep's partial file, checkpoints, its JSON; the
language model's training state and JSON), so that each run takes well under a second."""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path
from types import SimpleNamespace

import pytest

import main
from cli import parts as cli_parts
from sweeps.definitions import SWEEPS
from sweeps.run import SweepRun, safe_name, sweep_configs
from written.figures import FIGURE_FILES

NAMES = ["written", *SWEEPS, "lm"]


class Stop(KeyboardInterrupt):
    """Ctrl-C in the middle of a part."""


@pytest.fixture
def stand_ins(monkeypatch):
    """The parts replaced; `calls` lists the parts run, `stop_in` names the part to interrupt
    after it has written its partial work."""
    state = SimpleNamespace(calls=[], stop_in=None)

    def written(args):
        state.calls.append("written")
        (Path(args.out_dir) / FIGURE_FILES[0]).write_bytes(b"figure 1")
        if state.stop_in == "written":
            raise Stop  # in the checks, or between the figures
        (Path(args.out_dir) / FIGURE_FILES[1]).write_bytes(b"figure 2")

    def explorer(name):
        def explore(dev, train, test, embeddings, *, num_epochs, **settings):
            state.calls.append(name)
            sweep, run = SWEEPS[name](num_epochs), SweepRun(**settings)
            configs = sweep_configs(sweep, run, embeddings)
            out, ckpt = Path(run.out_dir), Path(run.ckpt_dir)
            out.mkdir(parents=True, exist_ok=True)
            ckpt.mkdir(parents=True, exist_ok=True)
            partial = out / f"{sweep.name}.partial.json"
            partial.write_text(json.dumps({"sweep": sweep.name, "jobs": {}}))
            for label in sweep.labels:
                for seed in run.seeds:
                    path = ckpt / f"{sweep.name}_{safe_name(label)}_seed{seed}.pth"
                    path.write_bytes(f"weights of {name} {label} {seed}".encode())
                    if state.stop_in == name:
                        raise Stop  # after the first run: partial work
            runs = [
                {"label": label, "config": dataclasses.asdict(c), "seeds": list(run.seeds)}
                for c, label in zip(configs, sweep.labels)
            ]
            history = {"sweep": sweep.name, "seeds": list(run.seeds), "runs": runs}
            (out / f"{sweep.name}.json").write_text(json.dumps({**history, "wall_seconds": 1}))
            partial.unlink()
            return {**history, "wall_seconds": 1.0}

        return explore

    def lm(args):
        state.calls.append("lm")
        from lm.run import lm_state

        lm_state(args).parent.mkdir(parents=True, exist_ok=True)
        lm_state(args).write_bytes(b"state")
        if state.stop_in == "lm":
            raise Stop
        json_path = cli_parts.lm_json(args)
        json_path.write_text(json.dumps({"config": args.lm_config.to_dict()}))

    monkeypatch.setattr(main, "cmd_written", written)
    monkeypatch.setattr(main, "cmd_lm", lm)
    vectors = SimpleNamespace(name="glove.6B.50d")
    monkeypatch.setattr(main, "mlp_inputs", lambda args: ((None, None, None), vectors, {}))
    monkeypatch.setattr(main, "EXPLORERS", {name: explorer(name) for name in SWEEPS})
    return state


def _files(*folders) -> dict:
    return {
        p: (p.stat().st_mtime_ns, p.read_bytes())
        for folder in folders
        if folder.exists()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _flags(tmp_path) -> list:
    return ["--quick", "--out-dir", str(tmp_path / "o"), "--ckpt-dir", str(tmp_path / "c")]


@pytest.mark.parametrize("stop_in", NAMES)
def test_all_interrupted_in_each_part_resumes_without_touching_the_finished_ones(
    tmp_path, stand_ins, capsys, stop_in
):
    (tmp_path / "o").mkdir()
    stand_ins.stop_in = stop_in
    assert main.main(_flags(tmp_path)) == 130
    message = capsys.readouterr().err.strip().splitlines()[-1]
    done = NAMES[: NAMES.index(stop_in)]
    assert stand_ins.calls == [*done, stop_in]
    # the message names what exists: the parts finished, the file of the partial work
    if done:
        assert f"finished: {', '.join(map(cli_parts.title, done))};" in message
    else:
        assert "no part had finished" in message
    if stop_in in SWEEPS:
        assert f"{SWEEPS[stop_in](1).name}.partial.json" in message
    if stop_in == "lm":
        assert "mlp_lm_quick.state.pt" in message
    assert "--resume" in message
    finished_files = {
        path: seen
        for path, seen in _files(tmp_path / "o", tmp_path / "c").items()
        if not path.name.endswith(".partial.json")
        and not path.name.endswith(".state.pt")
        # the part interrupted wrote some of its files: it runs again
        and not (stop_in in SWEEPS and path.name.startswith(SWEEPS[stop_in](1).name))
        and not (stop_in == "written" and path.name in FIGURE_FILES)
    }

    stand_ins.stop_in, stand_ins.calls = None, []
    assert main.main([*_flags(tmp_path), "--resume"]) == 0
    assert stand_ins.calls == NAMES[NAMES.index(stop_in) :]
    after = _files(tmp_path / "o", tmp_path / "c")
    assert {p: after[p] for p in finished_files} == finished_files
    summary = capsys.readouterr().out
    assert summary.count("kept") == len(done)
    assert not list((tmp_path / "o").glob("*.partial.json"))


def test_a_sweep_whose_json_has_other_seeds_is_run_again(tmp_path, stand_ins):
    """Finished means finished for the seeds (and configs) that would run now: the sweep's JSON
    of seed 0 does not stand for a run of seed 1."""
    assert main.main([*_flags(tmp_path), "--sweeps", "structures"]) == 0
    stand_ins.calls = []
    assert main.main([*_flags(tmp_path), "--sweeps", "structures", "--resume"]) == 0
    assert stand_ins.calls == []
    # (the language model's seed is --seed too: it runs again as well)
    assert main.main([*_flags(tmp_path), "--sweeps", "structures", "--seed", "1", "--resume"]) == 0
    assert stand_ins.calls == ["structures", "lm"]
    # `mlp --resume` keeps finished sweeps the same way
    stand_ins.calls = []
    again = ["mlp", *_flags(tmp_path), "--seed", "1", "--resume", "--sweeps"]
    assert main.main([*again, "structures"]) == 0
    assert stand_ins.calls == []
    assert main.main([*again, "tanh_lr"]) == 0
    assert stand_ins.calls == ["tanh_lr"]


def test_quiet_prints_only_the_summary(tmp_path, stand_ins, capsys):
    assert main.main([*_flags(tmp_path), "--sweeps", "tanh_lr", "--quiet"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    lines = captured.out.strip().splitlines()
    assert lines[0].startswith("the run's parts,") and len(lines) == 4
    assert "sweep tanh_lr" in lines[2] and lines[2].endswith("mlp_tanh_lr.json")
    # the summary's numbers, kept as JSON beside the results
    timings = json.loads((tmp_path / "o" / cli_parts.TIMINGS_FILE).read_text())
    assert [p["name"] for p in timings["parts"]] == ["written", "tanh_lr", "lm"]
    said = [float(line.split()[-3]) for line in lines[1:]]
    assert [round(p["seconds"], 1) for p in timings["parts"]] == said
    assert timings["seconds"] >= sum(p["seconds"] for p in timings["parts"])
    assert timings["command"].endswith("--quiet")


def test_a_log_gets_one_plain_line_as_each_part_starts_and_ends(tmp_path, stand_ins, capsys):
    assert main.main([*_flags(tmp_path), "--sweeps", "tanh_lr"]) == 0
    err = capsys.readouterr().err
    assert "\r" not in err
    status = [line for line in err.splitlines() if line.startswith("[part ")]
    assert [line.split(":")[0] for line in status] == [
        "[part 1/3] written checks",
        "[part 1/3] written checks",
        "[part 2/3] sweep tanh_lr",
        "[part 2/3] sweep tanh_lr",
        "[part 3/3] language model",
        "[part 3/3] language model",
    ]
    assert "left" in status[0] and "done in" in status[1]


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_on_a_terminal_the_status_line_is_redrawn_below_the_parts_lines(capsys):
    """The parts' lines go above the status line, which is redrawn after each of them."""
    term = _Terminal()
    ticks = iter(range(0, 1000, 10))
    parts = [
        cli_parts.Part("written", lambda: print("a line of the part"), 10.0),
        cli_parts.Part("lm", lambda: None, 30.0),
    ]
    total = cli_parts.run_parts(parts, quiet=False, clock=lambda: next(ticks), err=term)
    assert total > 0 and capsys.readouterr().out == "a line of the part\n"
    shown = term.getvalue()
    # (each reading of the clock is 10 s later)
    assert shown.startswith("\r\033[K[part 1/2] written checks: 20 s spent, about 30 s left")
    # the part's line was written, then the status line drawn again below it
    assert "\r\033[K\r\033[K[part 1/2] written checks: 30 s spent" in shown
    assert "\r\033[K[part 1/2] written checks: done in" in shown
    assert shown.count("\n") == 2  # only the lines that stay: each part's end


def test_the_estimate_scales_what_is_left_by_the_pace_so_far():
    parts = [cli_parts.Part(n, None, e) for n, e in (("written", 10.0), ("a", 20.0), ("lm", 30))]
    assert cli_parts.estimate_left(parts, 0, 4.0) == 6.0 + 50.0
    parts[0].seconds = 20.0  # twice as slow as the committed run
    assert cli_parts.estimate_left(parts, 1, 10.0) == 30.0 + 60.0
    assert cli_parts.estimate_left(parts, 1, 100.0) == 60.0
