"""main.py: the command line, the sweeps as data, and a `--quick` smoke run of everything on tiny
data."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import in_process
import main
from cli import flags as cli_flags
from cli.parse import build_parser
from lm import run as lm_run
import mlp_lm
from lm.config import LMRunConfig
from lm.scoring import Scoring
from lm.lstm import LSTMConfig

REPO = Path(__file__).resolve().parents[2]
LM_FIELD_FLAGS = [
    (f.name, f.field, f.kwargs) for f in cli_flags.FLAGS if f.field and "lm" in f.commands
]


def run_main(*args, cwd, env_extra=None, timeout=300):
    env = dict(os.environ, MPLBACKEND="Agg", **(env_extra or {}))
    return subprocess.run(
        [sys.executable, str(REPO / "main.py"), *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_help_lists_every_command(tmp_path):
    result = run_main("--help", cwd=tmp_path)
    assert result.returncode == 0
    for command in ("mlp", "lm", "sample", "written", "--quick", "--data-dir", "--seeds"):
        assert command in result.stdout


def test_missing_data_is_a_one_line_error(tmp_path):
    result = run_main("mlp", "--data-dir", tmp_path / "nowhere", cwd=tmp_path)
    assert result.returncode == 2
    assert (
        result.stderr.strip().count("\n") == 0
        and "nowhere" in result.stderr
        and "--data-dir" in result.stderr
    )
    result = in_process.run_main(
        "mlp", cwd=tmp_path, env_extra={"HW3_DATA_DIR": str(tmp_path / "gone")}
    )
    assert result.returncode == 2 and "HW3_DATA_DIR" in result.stderr


def test_every_lstm_flag_sets_its_field_of_the_lstm_config():
    """The LSTM's flags are its config's settings (and the scoring's, shared with `lm`): each sets
    its field of LSTMConfig and nothing else; a value out of range names the flag."""
    flags = [f for f in cli_flags.FLAGS if f.field and "lstm" in f.commands]
    expected = """--budget --bptt --batch-size --eval-batch-size --lr --embed-dim --hidden-dim
    --dropout --max-train-tokens --max-dev-tokens --threads --print-every --cache-size
    --dynamic-segment --ngram-order"""
    assert {f.name for f in flags} == set(expected.split())
    default = LSTMConfig()
    for flag in flags:
        words, value = _other_value(default, flag.field)
        config = main.parse_args(["lstm", flag.name, *words]).lstm_config
        assert getattr(config, flag.field) == value != getattr(default, flag.field), flag.name
        assert {**config.to_dict(), flag.field: None} == {
            **default.to_dict(),
            flag.field: None,
            "save_path": config.save_path,
        }, flag.name
    with pytest.raises(SystemExit):
        main.parse_args(["lstm", "--budget", "0"])


@pytest.mark.parametrize(
    "args, message",
    [
        (["sample", "--top-p", "1.5"], "--top-p: must be in [0, 1], got '1.5'"),
        (["mlp", "--seeds", "0"], "--seeds: must be a whole number >= 1, got '0'"),
        (["lm", "--window", "0"], "--window: must be a whole number >= 1"),
        (["lm", "--ema-decay", "1.5"], "--ema-decay: must be in [0, 1), got '1.5'"),
        (["lm", "--global-window", "-5"], "--global-window: must be a whole number >= 0"),
        (["lm", "--cache-size", "-1"], "--cache-size: must be a whole number >= 0"),
        (["sample", "--max-len", "-3"], "--max-len: must be a whole number >= 0"),
        (["cache", "--cache-size", "0"], "--cache-size: must be a whole number >= 1"),
        (["--seeds", "2", "lm"], "--seeds does not apply to `lm`"),
    ],
)
def test_bad_flags_are_one_line_usage_errors(tmp_path, args, message):
    # in this process: tests/faults/test_faults.py checks one through a real one
    result = in_process.run_main(*args, cwd=tmp_path)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1, result.stderr  # one line


def test_quick_run_of_everything_on_tiny_data(tiny_data_dir, tmp_path):
    out, ckpt = tmp_path / "out", tmp_path / "ckpt"
    # in this process (2-4 s less); a real process: test_help_lists_every_command
    result = in_process.run_main(
        "--quick",
        "--data-dir",
        tiny_data_dir,
        "--out-dir",
        out,
        "--ckpt-dir",
        ckpt,
        cwd=tmp_path,
        env_extra={"HW3_CACHE_DIR": str(tmp_path / "cache")},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    made = {p.name for p in out.iterdir()}
    for sweep in ("mlp_structures", "mlp_activations", "mlp_learning_rates"):
        assert {f"all_{sweep}_acc.png", f"all_{sweep}_loss.png", f"{sweep}.json"} <= made
        history = json.loads((out / f"{sweep}.json").read_text())
        assert all(len(run["dev_acc"][0]) == 3 and run["test_acc"] for run in history["runs"])
    assert {"mlp_structure_no-hidden-layer_loss.png", "mlp_structure_512-512-512_loss.png"} <= made
    assert {"activations.png", "computation_graph.png"} <= made  # the written part's figures
    # the language model
    assert list(out.glob("mlp_lm*_loss.png")) and list(out.glob("mlp_lm*_ppl.png"))
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in out.glob("*.png"))
    assert not any(" " in name or ">" in name for name in made)
    assert not (tmp_path / "plots").exists()  # a quick run never touches the committed plots


def test_flags_before_the_command_mean_what_they_mean_after_it(tmp_path):
    before = main.parse_args(["--quick", "--data-dir", str(tmp_path), "--seed", "3", "mlp"])
    after = main.parse_args(["mlp", "--quick", "--data-dir", str(tmp_path), "--seed", "3"])
    assert {k: v for k, v in vars(before).items() if k != "argv"} == {
        k: v for k, v in vars(after).items() if k != "argv"
    }
    assert (
        before.quick
        and before.data_dir == tmp_path
        and before.seed == 3
        and before.out_dir == cli_flags.QUICK_OUT_DIR
    )
    default = main.parse_args([])
    assert main.RUNS[default.command] is main.cmd_all
    assert default.epochs == 20
    assert default.lm_config.num_epochs == 4  # the sweeps' --epochs is not the language model's


def test_lm_config_is_the_preset_with_the_flags_given(tmp_path):
    args = main.parse_args(
        ["lm", "--config", "long", "--window", "5", "--epochs", "2", "--ckpt-dir", str(tmp_path)]
    )
    cfg = args.lm_config
    assert (cfg.name, cfg.local_window_size, cfg.num_epochs, cfg.hidden_dim) == ("long", 5, 2, 1024)
    assert cfg.save_path == str(tmp_path / "mlp_lm_long.pt")
    assert (
        lm_run.lm_checkpoint(
            main.parse_args(["sample", "--config", "long", "--ckpt-dir", str(tmp_path)])
        )
        == tmp_path / "mlp_lm_long.pt"
    )
    assert (
        lm_run.lm_checkpoint(main.parse_args(["cache", "--quick"]))
        == cli_flags.QUICK_OUT_DIR / "checkpoints" / "mlp_lm_quick.pt"
    )


def test_lm_quick_then_sample_quick_then_cache_quick_chain_on_tiny_data(
    tiny_data_dir, tmp_path, capsys
):
    common = [
        "--quick",
        "--data-dir",
        str(tiny_data_dir),
        "--out-dir",
        str(tmp_path / "out"),
        "--ckpt-dir",
        str(tmp_path / "ck"),
    ]
    assert main.main(["lm", *common, "--epochs", "2", "--cache-size", "30"]) == 0
    report = json.loads((tmp_path / "out" / "mlp_lm_quick.json").read_text())
    assert {p.name for p in (tmp_path / "out").iterdir()} == {
        "mlp_lm_quick.json",
        "mlp_lm_quick_loss.png",
        "mlp_lm_quick_ppl.png",
    }
    assert report["best_dev_ppl"] == min(report["history"]["dev_ppl"])
    assert report["best_checkpoint_scores"]["dev"]["ppl"] == pytest.approx(
        report["best_dev_ppl"], rel=1e-5
    )
    assert set(report["samples"]) == {"greedy", "top_p=0.0", "top_p=0.3", "top_p=1.0"}
    assert report["cache"]["cache_size"] == 30
    capsys.readouterr()
    assert main.main(["sample", *common, "--prompt", "the cat", "--max-len", "5"]) == 0
    printed = capsys.readouterr().out
    assert (
        f"Dev Perplexity: {report['best_dev_ppl']:.2f}" in printed
        and "Generated text: the cat" in printed
    )
    assert main.main(["cache", *common, "--cache-size", "30"]) == 0
    cached = json.loads((tmp_path / "out" / "mlp_lm_quick_cache.json").read_text())
    assert cached["dev"]["cache_ppl"] == pytest.approx(report["cache"]["dev"]["cache_ppl"])


def test_lm_with_the_new_model_parts_then_dynamic_on_its_checkpoint(tiny_data_dir, tmp_path):
    common = [
        "--quick",
        "--data-dir",
        str(tiny_data_dir),
        "--out-dir",
        str(tmp_path / "out"),
        "--ckpt-dir",
        str(tmp_path / "ck"),
    ]
    assert (
        main.main(
            [
                "lm",
                *common,
                "--epochs",
                "1",
                "--cache-size",
                "30",
                "--name",
                "all-on",
                "--tie-embeddings",
                "on",
                "--embed-dropout",
                "0.1",
                "--input-dropout",
                "0.1",
                "--weight-decay",
                "0.05",
                "--dynamic-segment",
                "25",
            ]
        )
        == 0
    )
    report = json.loads((tmp_path / "out" / "mlp_lm_all-on.json").read_text())
    cfg = report["config"]
    assert (
        cfg["name"],
        cfg["tie_embeddings"],
        cfg["embed_dropout_p"],
        cfg["input_dropout_p"],
        cfg["weight_decay"],
        cfg["dynamic_segment"],
    ) == ("quick", True, 0.1, 0.1, 0.05, 25)
    model, _, _ = mlp_lm.load_checkpoint(tmp_path / "ck" / "mlp_lm_all-on.pt")
    assert hasattr(model.final_layer.adaptive.head, "words")  # tied
    dyn = report["dynamic"]
    assert dyn["segment_len"] == 25 and {"ppl", "with_cache_ppl"} <= set(dyn["test"])
    assert dyn["dev"]["ppl"] < report["best_checkpoint_scores"]["dev"]["ppl"] * 1.5
    assert (
        main.main(
            [
                "dynamic",
                *common,
                "--checkpoint",
                str(tmp_path / "ck" / "mlp_lm_all-on.pt"),
                "--dynamic-segment",
                "25",
                "--cache-size",
                "30",
            ]
        )
        == 0
    )
    again = json.loads((tmp_path / "out" / "mlp_lm_all-on_dynamic.json").read_text())
    assert again["command"].startswith("python main.py dynamic")
    # the same scores from the checkpoint as after training
    for key in (
        "lr",
        "decay",
        "dev",
        "test",
    ):
        assert again[key] == pytest.approx(dyn[key]), key


def test_lm_with_the_course_config_trains_scores_and_resumes_into_scoring(tiny_data_dir, tmp_path):
    """The course's config has no eval_batch_size of its own (scoring uses its batch_size); a run
    whose training finished resumes straight into scoring, with scoring fields of its own."""
    common = [
        "--config",
        "course",
        "--data-dir",
        str(tiny_data_dir),
        "--out-dir",
        str(tmp_path / "out"),
        "--ckpt-dir",
        str(tmp_path / "ck"),
        "--epochs",
        "1",
        "--output-layer",
        "adaptive",
    ]
    assert main.main(["lm", *common, "--cache-size", "0"]) == 0
    first = json.loads((tmp_path / "out" / "mlp_lm_course.json").read_text())
    assert first["config"]["eval_batch_size"] is None and first["cache"] is None
    assert (
        main.main(["lm", *common, "--resume", "--cache-size", "20", "--dynamic-segment", "25"]) == 0
    )
    again = json.loads((tmp_path / "out" / "mlp_lm_course.json").read_text())
    assert (
        again["history"] == first["history"]
        and again["best_checkpoint_scores"] == first["best_checkpoint_scores"]
    )
    assert again["cache"]["cache_size"] == 20 and again["dynamic"]["segment_len"] == 25


def test_a_state_saved_before_the_new_model_fields_resumes(tiny_data_dir, tmp_path):
    """A training state written before tie_embeddings and the two dropouts existed ran without them:
    resuming it with a config that has them off is the same config."""
    common = [
        "--quick",
        "--data-dir",
        str(tiny_data_dir),
        "--out-dir",
        str(tmp_path / "out"),
        "--ckpt-dir",
        str(tmp_path / "ck"),
        "--epochs",
        "1",
        "--cache-size",
        "0",
        "--tie-embeddings",
        "off",
        "--embed-dropout",
        "0",
    ]
    assert main.main(["lm", *common]) == 0
    path = tmp_path / "ck" / "mlp_lm_quick.state.pt"
    state = torch.load(path, weights_only=False)
    for key in LMRunConfig.ADDED_OFF:
        del state["meta"]["config"][key]
    torch.save(state, path)
    assert main.main(["lm", *common, "--resume"]) == 0
    with pytest.raises(mlp_lm.CheckpointError, match="tie_embeddings=True"):
        main.main(["lm", *common[:-4], "--resume", "--debug"])  # the preset's, tied: another model


@pytest.mark.parametrize("bad", ["", "a/b", "..", "x y", "é"])
def test_a_run_name_must_be_a_safe_file_name(bad):
    with pytest.raises(SystemExit):
        main.parse_args(["lm", "--name", bad])
    assert (
        lm_run.lm_stem(lm_run.lm_run_name(main.parse_args(["lm", "--name", "no-tie_2"])))
        == "mlp_lm_no-tie_2"
    )


def test_lm_flags_reach_the_model(tiny_data_dir, tmp_path):
    args = main.parse_args(
        [
            "lm",
            "--quick",
            "--data-dir",
            str(tiny_data_dir),
            "--out-dir",
            str(tmp_path / "out"),
            "--ckpt-dir",
            str(tmp_path / "ck"),
            "--epochs",
            "1",
            "--window",
            "3",
            "--global-window",
            "0",
            "--ema-decay",
            "0",
            "--cache-size",
            "0",
            "--output-layer",
            "full",
        ]
    )
    report = main.cmd_lm(args)
    cfg = report["config"]
    assert (
        cfg["local_window_size"],
        cfg["global_window"],
        cfg["ema_decay"],
        cfg["num_epochs"],
    ) == (3, 0, 0.0, 1)
    assert "dev_ppl_last_iterate" not in report["history"] and report["cache"] is None
    model, _, _ = mlp_lm.load_checkpoint(tmp_path / "ck" / "mlp_lm_quick.pt")
    assert model.context_size == 3 and model.output_layer == "full"


@pytest.mark.parametrize("command", ["sample", "cache", "dynamic"])
def test_a_missing_checkpoint_is_one_line(tmp_path, command):
    result = in_process.run_main(command, "--ckpt-dir", tmp_path / "none", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1 and str(tmp_path / "none" / "mlp_lm.pt") in result.stderr


def test_replot_redraws_every_language_model_run_from_its_json(tmp_path):
    history = {
        "train_loss": [6.0, 5.0],
        "train_ppl": [403.4, 148.4],
        "dev_loss": [5.5, 5.3],
        "dev_ppl": [244.7, 200.3],
    }
    for folder, config in (
        ("", LMRunConfig.preset("default")),
        ("ablation", LMRunConfig.preset("default", global_window=0)),
    ):
        (tmp_path / folder).mkdir(exist_ok=True)
        (tmp_path / folder / "mlp_lm.json").write_text(
            json.dumps({"config": config.to_dict(), "history": history})
        )
    # not a training run: left alone
    (tmp_path / "mlp_lm_cache.json").write_text(json.dumps({"dev": {}}))
    drawn = main.main(["replot", "--out-dir", str(tmp_path)])
    assert drawn == 0
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*.png")) == [
        "ablation/mlp_lm_loss.png",
        "ablation/mlp_lm_ppl.png",
        "mlp_lm_loss.png",
        "mlp_lm_ppl.png",
    ]


def _other_value(config, field):
    """A valid value of `field` that differs from `config`'s, as a flag's words."""
    value = getattr(config, field)
    if field == "cutoffs":
        return ["500", "5000"], [500, 5000]
    if isinstance(value, bool):
        return ["off" if value else "on"], not value
    if field == "ngram_order":  # 2 to 5, or 0
        return [str(value - 1)], value - 1
    # at least 2 tokens for each of the batch's columns (LSTMConfig.validate)
    if field == "max_train_tokens":
        return ["1000"], 1000
    if field in ("output_layer", "optimizer", "schedule", "precision", "global_pool"):
        other = {
            "output_layer": "full",
            "optimizer": "adam",
            "schedule": "linear",
            "precision": "bf16",
            "global_pool": "kernel",
        }[field]
        return [other], other
    if field.endswith("_p") or field in ("ema_decay", "decay"):
        return ["0.5"], 0.5
    if isinstance(value, float):
        return [repr(value * 2)], value * 2
    return [str((value or 3) + 1)], (value or 3) + 1


def test_every_language_model_flag_sets_its_field_and_the_config_checks_its_value():
    """Each flag of cli/flags.py that names an LMConfig field reaches that field, is listed by `lm
    --help`, and a value out of range is refused once, by LMConfig.validate, with the flag named."""
    # the usual names
    renamed = {
        "--epochs": "num_epochs",
        "--window": "local_window_size",
        "--dropout": "dropout_p",
        "--threads": "num_threads",
        "--global-dropout": "global_dropout_p",
        "--embed-dropout": "embed_dropout_p",
        "--input-dropout": "input_dropout_p",
        "--state-every": "state_every_s",
    }
    assert {flag: field for flag, field, _ in LM_FIELD_FLAGS} == {
        flag: renamed.get(flag, flag[2:].replace("-", "_")) for flag, _, _ in LM_FIELD_FLAGS
    }
    # every field but the run's name and file, and the scoring grids that only presets set (the
    # fields that were mlp_lm.LMConfig's before the course's config was split from ours)
    grids = {*Scoring.GRIDS, "dynamic_tune_tokens"}
    fields = {f.name for f in dataclasses.fields(LMRunConfig)} - grids
    assert fields - {field for _, field, _ in LM_FIELD_FLAGS} == {
        "seed",
        "device",
        "save_path",
        "name",
    }
    default = lm_run.LMRunConfig.preset("default")
    help_text = build_parser()._subparsers._group_actions[0].choices["lm"].format_help()
    for flag, field, _ in LM_FIELD_FLAGS:
        assert flag in help_text, flag
        words, value = _other_value(default, field)
        config = main.parse_args(["lm", flag, *words]).lm_config
        assert getattr(config, field) == value != getattr(default, field), flag
        assert config.to_dict() == {
            **default.to_dict(),
            field: value,
            "save_path": config.save_path,
            "seed": 0,
        }
    for flag, bad in (
        ("--batch-size", "0"),
        ("--lr", "-1"),
        ("--embed-dim", "0"),
        ("--hidden-dim", "-2"),
        ("--dropout", "1"),
        ("--decay", "0"),
        ("--patience", "0"),
        ("--seed", "-1"),
    ):
        with pytest.raises(SystemExit):
            main.parse_args(["lm", flag, bad])
    assert all("_number" not in repr(kwargs.get("type")) for _, _, kwargs in LM_FIELD_FLAGS)


@pytest.mark.parametrize(
    "args, message",
    [
        (["lm", "--batch-size", "0"], "--batch-size: must be a whole number >= 1, got '0'"),
        (["lm", "--lr", "nan"], "--lr: must be finite and > 0, got 'nan'"),
        (
            ["lm", "--global-chunks", "3"],
            "--global-chunks: must be a divisor of global_window (64), got '3'",
        ),
        (["mlp", "--epochs", "0"], "--epochs: must be a whole number >= 1, got '0'"),
        (["sample", "--seed", "-1"], "--seed: must be a whole number >= 0, got '-1'"),
        # parsed only: a `data` that got past its parser would fetch from the real sources
        (["data", "--timeout", "inf"], "--timeout: must be finite and >= 0.1, got 'inf'"),
        (["data", "--timeout", "nan"], "--timeout: must be finite and >= 0.1, got 'nan'"),
    ],
)
def test_a_value_out_of_range_names_its_flag(args, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main.parse_args(args)
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_the_default_run_is_the_run_that_reference_holds():
    """`python main.py` runs what reference/ holds, so that `compare` after it can find every
    number: each sweep's seeds, labels and configs, the table's seeds, the language model's
    config."""
    from sweeps.definitions import SWEEPS_BY_NAME

    reference = Path(main.__file__).resolve().parent / "reference"
    default = main.parse_args([])
    for name, sweep in SWEEPS_BY_NAME.items():
        held = json.loads((reference / f"{name}.json").read_text())
        assert held["seeds"] == list(range(default.seed, default.seed + default.seeds)), name
        made = sweep(default.epochs)
        assert [run["label"] for run in held["runs"]] == made.labels, name
        for config, run in zip(made.configs, held["runs"]):
            mine = dataclasses.asdict(config)
            for key in ("seed", "save_path"):  # each run's own
                mine.pop(key)
            assert mine == {k: run["config"][k] for k in mine}, (name, run["label"])
    table = json.loads((reference / "sentiment_ngrams.json").read_text())
    assert table["seeds"] == list(range(main.parse_args(["sentiment"]).seeds))
    lm = json.loads((reference / "mlp_lm.json").read_text())["config"]
    assert dataclasses.asdict(default.lm_config) == lm
