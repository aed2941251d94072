"""The fault matrix of the command line: every expected fault is one line on stderr with a non-zero
exit code, found before any work, and leaves earlier results as they were; Ctrl-C keeps what
finished, and --resume goes on from there to the numbers of an uninterrupted run. Tiny data only
(conftest.py)."""

from __future__ import annotations


import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import in_process
import main
import mlp
from sweeps import batched
from sweeps import run as sweep_run
from sweeps.run import Sweep, SweepRun
import mlp_lm
import utils
from nplm.checkpoint import meta_path

REPO = Path(__file__).resolve().parents[2]


def run_main(*args, cwd, timeout=180, **popen):
    env = dict(os.environ, MPLBACKEND="Agg")
    return subprocess.run(
        [sys.executable, str(REPO / "main.py"), *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        **popen,
    )


def fingerprint(folder: Path) -> dict:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def assert_one_line(result, code, *needles):
    assert result.returncode == code, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
    for needle in needles:
        assert str(needle) in lines[0], lines[0]


@pytest.fixture
def earlier_results(tmp_path):
    """An output folder holding an earlier run's results, which no failed command may touch."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "mlp_lm.json").write_text('{"best_dev_ppl": 123.0}\n')
    (out / "mlp_structures.json").write_text('{"runs": []}\n')
    return out


@pytest.mark.parametrize(
    "args, needles",
    [
        (["lm", "--window", "0"], ["--window", "'0'"]),
        (["lm", "--ema-decay", "1.5"], ["--ema-decay", "[0, 1)"]),
        (["lm", "--global-window", "-5"], ["--global-window", "'-5'"]),
        (["lm", "--cache-size", "-1"], ["--cache-size", "'-1'"]),
        (["lm", "--embed-dropout", "1"], ["--embed-dropout", "[0, 1)"]),
        (["lm", "--tie-embeddings", "yes"], ["--tie-embeddings", "'yes'"]),
        (["lm", "--name", "../x"], ["--name", "'../x'"]),
        (["dynamic", "--dynamic-segment", "0"], ["--dynamic-segment", "'0'"]),
        (["sample", "--max-len", "-3"], ["--max-len", "'-3'"]),
        (["sample", "--top-p", "2"], ["--top-p", "[0, 1]"]),
        (["mlp", "--seeds", "0"], ["--seeds"]),
        (["--seeds", "2", "lm"], ["--seeds does not apply to `lm`"]),
        (["lm", "--resume"], ["nothing to resume", "mlp_lm.state.pt"]),
    ],
)
def test_bad_values_are_one_line_before_any_work(tmp_path, earlier_results, args, needles):
    """In this process (the real one: the test below)."""
    before = fingerprint(earlier_results)
    result = in_process.run_main(
        *args,
        "--out-dir",
        earlier_results,
        "--ckpt-dir",
        tmp_path / "ck",
        "--data-dir",
        tmp_path / "no-data",
        cwd=tmp_path,
    )
    assert_one_line(result, 2, *needles)
    assert "no-data" not in result.stderr  # refused before looking for data
    assert fingerprint(earlier_results) == before


def test_a_bad_value_is_one_line_from_a_real_process_as_in_this_one(tmp_path):
    """One bad value through `python main.py` itself, which the test above runs in this process:
    the same exit code and the same one line on stderr."""
    args = ["lm", "--window", "0", "--data-dir", tmp_path / "no-data"]
    real = run_main(*args, cwd=tmp_path)
    assert_one_line(real, 2, "--window", "'0'")
    here = in_process.run_main(*args, cwd=tmp_path)
    assert (here.returncode, here.stderr) == (real.returncode, real.stderr)


@pytest.mark.parametrize("flag", ["--out-dir", "--ckpt-dir"])
@pytest.mark.parametrize("where", ["a file", "unwritable"])
def test_an_output_folder_that_cannot_be_written_is_refused_before_training(
    tmp_path, earlier_results, flag, where
):
    target = tmp_path / "taken" if where == "a file" else Path("/proc/hw3-cannot-be-made")
    if where == "a file":
        target.write_text("not a folder")
    before = fingerprint(earlier_results)
    extra = [] if flag == "--out-dir" else ["--out-dir", earlier_results]
    result = in_process.run_main(
        "lm", "--quick", flag, target, *extra, "--data-dir", tmp_path / "no-data", cwd=tmp_path
    )
    assert_one_line(result, 2, flag, target)
    assert fingerprint(earlier_results) == before


def test_flags_before_the_command_are_used_not_dropped(tmp_path):
    result = in_process.run_main(
        "--quick", "--data-dir", tmp_path / "elsewhere", "mlp", cwd=tmp_path
    )
    assert_one_line(result, 2, tmp_path / "elsewhere")


@pytest.fixture(scope="module")
def trained(whole_lm_run) -> Path:
    """A quick run's checkpoint folder, trained once for the tests that damage copies of it."""
    return whole_lm_run / "ck"


@pytest.mark.parametrize(
    "damage", ["missing", "truncated", "empty", "text", "foreign", "no json", "other config"]
)
def test_a_bad_checkpoint_is_one_line_naming_it(
    tmp_path, tiny_data_dir, trained, earlier_results, damage, capsys
):
    ck = tmp_path / "ck"
    ck.mkdir()
    for name in ("mlp_lm_quick.pt", "mlp_lm_quick.pt.json"):
        (ck / name).write_bytes((trained / name).read_bytes())
    weights = ck / "mlp_lm_quick.pt"
    meta = meta_path(weights)
    if damage == "missing":
        weights.unlink()
    elif damage == "truncated":
        weights.write_bytes(weights.read_bytes()[:1000])
    elif damage == "empty":
        weights.write_bytes(b"")
    elif damage == "text":
        weights.write_text("these are not weights\n")
    elif damage == "foreign":
        torch.save({"something": torch.zeros(3)}, weights)
    elif damage == "no json":
        meta.unlink()
    else:  # a JSON that describes another model, with the right checksum
        saved = json.loads(meta.read_text())
        saved["model"]["hidden_dim"] *= 2
        meta.write_text(json.dumps(saved))
    before = fingerprint(earlier_results)
    capsys.readouterr()
    for command in ("sample", "cache", "dynamic"):
        code = main.main(
            [
                command,
                "--quick",
                "--ckpt-dir",
                str(ck),
                "--out-dir",
                str(earlier_results),
                "--data-dir",
                str(tiny_data_dir),
            ]
        )
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(err) == 1 and str(weights) in err[0], err
    assert fingerprint(earlier_results) == before


def test_debug_shows_the_traceback(tmp_path):
    result = in_process.run_main("sample", "--ckpt-dir", tmp_path / "none", "--debug", cwd=tmp_path)
    assert (
        result.returncode != 0
        and "Traceback" in result.stderr
        and "CheckpointError" in result.stderr
    )
    env_result = subprocess.run(
        [sys.executable, str(REPO / "main.py"), "sample", "--ckpt-dir", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=dict(os.environ, HW3_DEBUG="1"),
        timeout=180,
    )
    assert "Traceback" in env_result.stderr


def test_a_diverging_run_stops_with_the_epoch_and_step(tmp_path):
    tok = mlp_lm.WordTokenizer.from_texts([" the cat sat on the mat . "] * 8)
    stream = mlp_lm.encode_stream([" the cat sat on the mat . "] * 8, tok)
    model = mlp_lm.NPLM(tok.vocab_size, 4, 3, 8, 1, 0.0)
    batches = mlp_lm.WindowBatches(stream, 3, tok.pad_token_id, 8)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    calls = []

    def poison(module, inputs, output):  # the third step's hidden states overflow
        calls.append(1)
        return output * float("inf") if len(calls) == 3 else output

    model.first_layer.register_forward_hook(poison)
    with pytest.raises(
        utils.TrainingDiverged,
        match=r"at epoch 1, by step 2 \(lr 1.00e-01\); no checkpoint was kept",
    ):
        mlp_lm.train(
            model,
            batches,
            batches,
            None,
            optimizer,
            None,
            2,
            tmp_path / "m.pt",
            print_every=0,
            options=mlp_lm.TrainOptions(log=lambda *a: None),
        )


def test_a_diverging_sweep_run_is_one_line_naming_the_run(
    tiny_table, tmp_path, monkeypatch, capsys
):
    from conftest import review
    import random

    rng = random.Random(0)
    raw = lambda n: {
        "text": [review(rng, i % 2) for i in range(n)],
        "label": [i % 2 for i in range(n)],
    }  # noqa
    datasets = mlp.create_tensor_datasets([raw(20), raw(40), raw(20)], tiny_table)
    configs = [mlp.MLPConfig(hidden_dims=[4], lr=float("inf"), num_epochs=2, batch_size=8)]
    run = SweepRun(seeds=[0], out_dir=tmp_path, workers=1)
    with pytest.raises(
        utils.TrainingDiverged,
        match="sweep s, big, seed 0: the training loss became nan in epoch 1",
    ):
        sweep_run.run_sweep(Sweep("s", configs, ["big"]), datasets, run)
    assert not (tmp_path / "s.json").exists()  # no JSON full of nulls

    def sweep(args):
        return sweep_run.run_sweep(Sweep("s", configs, ["big"]), datasets, run)

    monkeypatch.setitem(main.RUNS, "mlp", sweep)
    assert main.main(["mlp", "--out-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: sweep s, big, seed 0")


def _lm_args(tiny_data_dir, folder: Path) -> list:
    return [
        "lm",
        "--quick",
        "--data-dir",
        str(tiny_data_dir),
        "--out-dir",
        str(folder / "out"),
        "--ckpt-dir",
        str(folder / "ck"),
        "--epochs",
        "3",
        "--cache-size",
        "20",
    ]


@pytest.fixture(scope="module")
def whole_lm_run(tiny_data_dir, tmp_path_factory) -> Path:
    """A quick run of 3 epochs, trained once for the tests that only read it (or copies of it)."""
    folder = tmp_path_factory.mktemp("whole")
    assert main.main(_lm_args(tiny_data_dir, folder)) == 0
    return folder


def test_an_interrupted_lm_run_resumes_to_the_numbers_of_an_uninterrupted_one(
    tiny_data_dir, tmp_path, monkeypatch, capsys, whole_lm_run
):
    whole = json.loads((whole_lm_run / "out" / "mlp_lm_quick.json").read_text())
    real_save, saves = utils.atomic_save, []

    def save_then_stop(obj, path):  # Ctrl-C right after the state of epoch 0 is kept
        real_save(obj, path)
        if str(path).endswith(".state.pt"):
            saves.append(path)
            if len(saves) == 1:
                raise KeyboardInterrupt

    monkeypatch.setattr(utils, "atomic_save", save_then_stop)
    cut = tmp_path / "cut"
    assert main.main(_lm_args(tiny_data_dir, cut)) == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("interrupted:") and "--resume" in err[0]
    assert not (cut / "out" / "mlp_lm_quick.json").exists()
    monkeypatch.setattr(utils, "atomic_save", real_save)
    assert main.main(_lm_args(tiny_data_dir, cut) + ["--resume"]) == 0
    resumed = json.loads((cut / "out" / "mlp_lm_quick.json").read_text())
    for key in ("history", "best_checkpoint_scores", "samples", "best_epoch", "best_dev_ppl"):
        assert resumed[key] == whole[key], key
    assert {k: v for k, v in resumed["cache"].items() if k != "seconds"} == {
        k: v for k, v in whole["cache"].items() if k != "seconds"
    }
    assert (
        resumed["checkpoint"]["weights_sha256"]
        == whole["checkpoint"]["weights_sha256"]
        == hashlib.sha256((cut / "ck" / "mlp_lm_quick.pt").read_bytes()).hexdigest()
    )


def test_resume_refuses_another_config(tiny_data_dir, tmp_path, whole_lm_run):
    shutil.copytree(whole_lm_run, tmp_path, dirs_exist_ok=True)
    args = main.parse_args(_lm_args(tiny_data_dir, tmp_path) + ["--resume", "--window", "5"])
    with pytest.raises(mlp_lm.CheckpointError, match="local_window_size=5"):
        main.cmd_lm(args)


def test_an_interrupted_sweep_resumes_without_redoing_finished_runs(
    tiny_table, tmp_path, monkeypatch
):
    from conftest import review
    import random

    rng = random.Random(1)
    raw = lambda n: {
        "text": [review(rng, i % 2) for i in range(n)],
        "label": [i % 2 for i in range(n)],
    }  # noqa
    datasets = mlp.create_tensor_datasets([raw(20), raw(40), raw(20)], tiny_table)
    configs = [
        mlp.MLPConfig(hidden_dims=[4], lr=0.01, num_epochs=2, batch_size=8, activation=a)
        for a in ("ReLU", "Tanh")
    ]
    sweep = Sweep("s", configs, ["relu", "tanh"])
    whole = sweep_run.run_sweep(
        sweep, datasets, SweepRun(seeds=[0, 1], out_dir=tmp_path / "whole", workers=1)
    )
    # the runs train in stacked groups, one per config here (sweeps/batched.py)
    real_group, calls = batched.train_group, []

    def counted(configs, *a):
        calls.extend((config.activation, config.seed) for config in configs)
        if len(calls) > 2:
            raise KeyboardInterrupt
        return real_group(configs, *a)

    monkeypatch.setattr(batched, "train_group", counted)
    cut = tmp_path / "cut"
    with pytest.raises(KeyboardInterrupt):
        sweep_run.run_sweep(sweep, datasets, SweepRun(seeds=[0, 1], out_dir=cut, workers=1))
    assert len(json.loads((cut / "s.partial.json").read_text())["jobs"]) == 2
    calls.clear()
    resumed = sweep_run.run_sweep(
        sweep, datasets, SweepRun(seeds=[0, 1], out_dir=cut, workers=1, resume=True)
    )
    assert calls == [("Tanh", 0), ("Tanh", 1)]  # the two finished ReLU runs were kept
    for a, b in zip(whole["runs"], resumed["runs"]):
        assert {k: a[k] for k in sweep_run.RESULT_KEYS} == {k: b[k] for k in sweep_run.RESULT_KEYS}
    assert not (cut / "s.partial.json").exists()


def _wait_for(proc, path: Path, timeout=120):
    start = time.time()
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.time() - start < timeout
        time.sleep(0.05)


def test_a_ctrl_c_while_the_sweep_pool_shuts_down_reaches_the_caller(
    tiny_table, tmp_path, monkeypatch
):
    """The sweep closes its workers' results itself: a Ctrl-C that lands while the pool shuts down
    (after the last result) is raised to the caller. Closed by the garbage collector instead, it
    was printed as "Exception ignored" and the run went on to the next sweep."""
    from conftest import review
    import random

    rng = random.Random(0)
    labels = lambda n: [i % 2 for i in range(n)]  # noqa: E731
    raw = lambda n: {"text": [review(rng, y) for y in labels(n)], "label": labels(n)}  # noqa
    datasets = mlp.create_tensor_datasets([raw(20), raw(40), raw(20)], tiny_table)

    def results_then_ctrl_c(fn, items, workers, context=None):
        try:
            for item in items:
                yield fn(context, item)
        finally:
            # the pool's terminate() and join(), where the Ctrl-C lands
            raise KeyboardInterrupt

    monkeypatch.setattr(sweep_run.worker_pool, "fork_imap", results_then_ctrl_c)
    configs = [mlp.MLPConfig(hidden_dims=[4], num_epochs=1, batch_size=8)]
    with pytest.raises(KeyboardInterrupt):
        sweep_run.run_sweep(
            Sweep("s", configs, ["one"]), datasets, SweepRun(seeds=[0], out_dir=tmp_path)
        )
    assert not (tmp_path / "s.json").exists() and (tmp_path / "s.partial.json").is_file()


@pytest.mark.parametrize(
    "command, trigger",
    # (a sweep's partial file lives for moments on tiny data: the signal follows the first sweep)
    [("lm", "ck/mlp_lm_quick.state.pt"), ("mlp", "out/mlp_structures.json"), ("mlp", None)],
)
def test_ctrl_c_is_one_line_and_exit_code_130(tiny_data_dir, tmp_path, command, trigger):
    args = [
        sys.executable,
        str(REPO / "main.py"),
        command,
        "--quick",
        "--data-dir",
        str(tiny_data_dir),
        "--out-dir",
        str(tmp_path / "out"),
        "--ckpt-dir",
        str(tmp_path / "ck"),
    ]
    env = dict(os.environ, MPLBACKEND="Agg", HW3_CACHE_DIR=str(tmp_path / "cache"))
    proc = subprocess.Popen(
        args, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    if trigger:
        _wait_for(proc, tmp_path / trigger)
    else:  # while the sweep starts its worker processes
        for line in proc.stdout:
            if "sweep mlp_structures" in line:
                break
    start = time.time()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert time.time() - start < 10
    assert proc.returncode == 130, err[-2000:]
    said = [line for line in err.strip().splitlines() if line.startswith("interrupted")]
    assert len(said) == 1 and err.strip().endswith(said[0]) and "Traceback" not in err, err[-2000:]
    assert "--resume" in said[0]
    if command == "lm":
        assert (tmp_path / "ck" / "mlp_lm_quick.pt").is_file()


@pytest.mark.parametrize(
    "command, damaged",
    [("lm", "wikitext-2/wiki.valid.tokens.gz"), ("mlp", "imdb/imdb_train.csv.gz")],
)
def test_a_damaged_data_file_is_one_line_through_the_command_line(
    tiny_data_dir, tmp_path, earlier_results, command, damaged
):
    data = tmp_path / "data"
    shutil.copytree(tiny_data_dir, data)
    path = data / damaged
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])  # a truncated gzip stream
    before = fingerprint(earlier_results)
    result = in_process.run_main(
        command,
        "--quick",
        "--data-dir",
        data,
        "--out-dir",
        earlier_results,
        "--ckpt-dir",
        tmp_path / "ck",
        cwd=tmp_path,
        env_extra={"HW3_CACHE_DIR": str(tmp_path / "cache")},
    )
    said = [line for line in result.stderr.strip().splitlines() if line.startswith("error:")]
    assert result.returncode == 2 and len(said) == 1 and "Traceback" not in result.stderr, (
        result.stderr[-2000:]
    )
    assert str(path) in said[0] and "truncated" in said[0]
    assert fingerprint(earlier_results) == before


@pytest.fixture(scope="module")
def lstm_trained(tiny_data_dir, tmp_path_factory) -> Path:
    """The checkpoint of a second-long `lstm` run on the tiny data."""
    ck = tmp_path_factory.mktemp("lstm")
    args = ["lstm", "--quick", "--budget", "1", "--cache-size", "0", "--dynamic-segment", "0"]
    folders = ["--data-dir", tiny_data_dir, "--out-dir", ck / "o", "--ckpt-dir", ck]
    assert main.main([*args, *map(str, folders)]) == 0
    return ck / "lstm_lm_quick.pt"


@pytest.mark.parametrize("command", ["sample", "cache", "dynamic"])
def test_an_lstm_checkpoint_given_to_the_fixed_window_commands_is_one_line(
    tiny_data_dir, lstm_trained, earlier_results, command, capsys
):
    before = fingerprint(earlier_results)
    capsys.readouterr()
    folders = ["--data-dir", tiny_data_dir, "--out-dir", earlier_results]
    code = main.main([command, "--checkpoint", str(lstm_trained), *map(str, folders)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "Traceback" not in err[0], err
    assert str(lstm_trained) in err[0] and "LSTM" in err[0] and "python main.py lm" in err[0]
    assert fingerprint(earlier_results) == before


@pytest.mark.parametrize(
    "args, message",
    [
        (["--max-train-tokens", "10"], "--max-train-tokens: must be at least 2 x batch_size (64)"),
        (["--quick", "--batch-size", "100000"], "--batch-size: must be at most half of"),
        (["--max-train-tokens", "100", "--batch-size", "60"], "--max-train-tokens: must be at"),
    ],
)
def test_an_lstm_train_prefix_too_short_for_the_batch_is_refused_at_parse_time(
    tmp_path, args, message, capsys
):
    with pytest.raises(SystemExit) as exit_info:
        main.parse_args(["lstm", *args, "--data-dir", str(tmp_path / "no-data")])
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2 and len(err) == 1 and message in err[0], err


def test_an_lstm_batch_wider_than_the_data_is_one_line_naming_the_flag(
    tiny_data_dir, tmp_path, capsys
):
    folders = ["--data-dir", tiny_data_dir, "--out-dir", tmp_path / "o", "--ckpt-dir", tmp_path]
    code = main.main(["lstm", "--batch-size", "100000", *map(str, folders)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "Traceback" not in err[0], err
    assert "too short for 100,000 columns" in err[0] and "lower --batch-size" in err[0]
    assert not list(tmp_path.glob("*.pt"))
