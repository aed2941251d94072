"""Homework 3 entry point: `python main.py` runs every experiment and saves plots and results in plots/.

    python main.py                # everything: the three MLP sweeps, the language model, the figures
    python main.py mlp            # the sweeps of section 6.1 and 6.1.3's control (or: --sweeps structures ...)
    python main.py lm             # train and score the fixed-window language model (mlp_lm.py)
    python main.py sample         # sample from a saved language-model checkpoint
    python main.py cache          # score a saved checkpoint with a continuous cache (Grave et al. 2017)
    python main.py dynamic        # ... with dynamic evaluation (Krause et al. 2018), alone and with the cache
    python main.py written        # check every written answer (sections 1-5) and draw Figures 1 and 2
    python main.py sentiment      # beyond the handout: bags of n-grams, trained embeddings, NB weighting (IMDB)
    python main.py ... --quick    # the same on small slices, in seconds (results go to runs/quick)

The sweeps are data (`SWEEPS`): each is a list of configs and labels handed to `mlp.run_sweep`, which runs
them over the seeds, plots the curves and writes a JSON of every number. `explore_mlp_structures`,
`explore_mlp_activations` and `explore_mlp_learning_rates` keep the course skeleton's signatures.

The language model's commands (lm, sample, cache, dynamic, replot) are nplm/run.py's. Every flag is declared
here and checked by `parse_args`, before any data is read: flags may come before or after the command, and the
language model's config (`lm_run.LMRunConfig`) is built once, from its preset and the flags given, then read as
plain attributes.
"""

from __future__ import annotations

if (
    __name__ == "__main__"
):  # Ctrl-C while the libraries below load: one line, not an import traceback
    import signal as _signal
    import sys as _sys

    _signal.signal(
        _signal.SIGINT,
        lambda *_: (print("interrupted: nothing was written", file=_sys.stderr), _sys.exit(130)),
    )

import argparse
import dataclasses
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import List, Optional, Sequence


from common import datafiles
from common import glove
from nplm import distributed as lm_distributed
import mlp
import mlp_lm
import utils
from nplm.dynamic import DYNAMIC_SEGMENT
from nplm.optim import SCHEDULES
from nplm.run import (
    LMRunConfig,
    cmd_cache,
    cmd_dynamic,
    cmd_lm,
    cmd_replot,
    cmd_sample,  # noqa: F401
    lm_checkpoint,
    lm_run_name,
    lm_state,
    lm_stem,
    plot_lm_history,
)
from mlp import ACTIVATION_NAMES, MLPConfig, RawSplit, load_data_mlp

DEFAULT_OUT_DIR = Path("plots")
DEBUG_ENV = "HW3_DEBUG"
QUICK_OUT_DIR = Path("runs") / "quick"
LEARNING_RATES = [0.0001, 0.001, 0.005, 0.02, 0.05, 0.1]


@dataclasses.dataclass
class Sweep:
    """One experiment of section 6.1: configs with their plot labels, and what to plot."""

    name: str  # file stem: plots/all_{name}_acc.png, plots/{name}.json
    configs: List[MLPConfig]
    labels: List[str]
    epoch_plot_prefix: Optional[str] = (
        None  # per-config train/dev loss plots, as the course drew for 6.1.3
    )
    probe: bool = False  # trained with common/mlp_probe.py's observers: its JSON, no plots


def structure_sweep(num_epochs: int = 20) -> Sweep:
    """6.1.3: depth, with the course's learning rate for each depth (Sigmoid, batch 64)."""
    dims = [[], [512], [512, 512], [512, 512, 512]]
    lrs = [0.025, 0.02, 0.01, 0.001]
    return Sweep(
        "mlp_structures",
        [
            MLPConfig(
                hidden_dims=d, lr=lr, activation="Sigmoid", batch_size=64, num_epochs=num_epochs
            )
            for d, lr in zip(dims, lrs)
        ],
        [" -> ".join(map(str, d)) or "no hidden layer" for d in dims],
        epoch_plot_prefix="mlp_structure",
    )


def activation_sweep(num_epochs: int = 20) -> Sweep:
    """6.1.4: activation functions, one hidden layer of 512, lr 0.02, batch 128."""
    return Sweep(
        "mlp_activations",
        [
            MLPConfig(
                hidden_dims=[512], lr=0.02, activation=a, batch_size=128, num_epochs=num_epochs
            )
            for a in ACTIVATION_NAMES
        ],
        list(ACTIVATION_NAMES),
    )


def learning_rate_sweep(num_epochs: int = 20) -> Sweep:
    """6.1.5: learning rates from 1e-4 to 1e-1, one hidden layer of 512, Sigmoid, batch 64."""
    return Sweep(
        "mlp_learning_rates",
        [
            MLPConfig(
                hidden_dims=[512], lr=lr, activation="Sigmoid", batch_size=64, num_epochs=num_epochs
            )
            for lr in LEARNING_RATES
        ],
        [f"lr={lr:g}" for lr in LEARNING_RATES],
    )


def depth_vs_lr_sweep(num_epochs: int = 20) -> Sweep:
    """6.1.3's control: one, two and three hidden layers, each at 0.02 and 0.001 (the one- and
    three-layer nets' course learning rates; Sigmoid, batch 64), so that depth and learning rate are
    told apart."""
    cells = [(d, lr) for d in ([512], [512, 512], [512, 512, 512]) for lr in (0.02, 0.001)]
    return Sweep(
        "mlp_depth_vs_lr",
        [
            MLPConfig(
                hidden_dims=d, lr=lr, activation="Sigmoid", batch_size=64, num_epochs=num_epochs
            )
            for d, lr in cells
        ],
        [f"{' -> '.join(map(str, d))}, lr {lr:g}" for d, lr in cells],
    )


TANH_LEARNING_RATES = [0.001, 0.002, 0.005, 0.01]


def tanh_lr_sweep(num_epochs: int = 20) -> Sweep:
    """6.1.4's control: Tanh at smaller learning rates than the sweep's 0.02 (tanh' peaks at 1, four
    times sigmoid's 1/4), one hidden layer of 512, batch 128, as in the activations sweep."""
    return Sweep(
        "mlp_tanh_lr",
        [
            MLPConfig(
                hidden_dims=[512], lr=lr, activation="Tanh", batch_size=128, num_epochs=num_epochs
            )
            for lr in TANH_LEARNING_RATES
        ],
        [f"Tanh, lr {lr:g}" for lr in TANH_LEARNING_RATES],
    )


def depth_probe_sweep(num_epochs: int = 20) -> Sweep:
    """6.1.3's "why": one, two and three sigmoid layers at 0.02, and one and three at 0.001, trained
    with common/mlp_probe.py's observers (per-layer gradient norms, saturated units) on."""
    cells = [
        ([512], 0.02),
        ([512], 0.001),
        ([512, 512], 0.02),
        ([512, 512, 512], 0.02),
        ([512, 512, 512], 0.001),
    ]
    return Sweep(
        "mlp_depth_probe",
        [
            MLPConfig(
                hidden_dims=d, lr=lr, activation="Sigmoid", batch_size=64, num_epochs=num_epochs
            )
            for d, lr in cells
        ],
        [f"{' -> '.join(map(str, d))}, lr {lr:g}" for d, lr in cells],
        probe=True,
    )


SWEEPS = {
    "structures": structure_sweep,
    "activations": activation_sweep,
    "learning_rates": learning_rate_sweep,
    "depth_vs_lr": depth_vs_lr_sweep,
    "tanh_lr": tanh_lr_sweep,
    "depth_probe": depth_probe_sweep,
}
SWEEPS_BY_NAME = {sweep().name: sweep for sweep in SWEEPS.values()}


def _explore(
    sweep: Sweep,
    dev_d,
    train_d,
    test_d,
    embeddings,
    seeds: Sequence[int],
    out_dir,
    ckpt_dir,
    resume: bool,
    device: Optional[str],
) -> dict:
    """Featurize (unless given TensorDatasets), then run the sweep and save its plots and JSON."""
    datasets = mlp.as_tensor_datasets((dev_d, train_d, test_d), embeddings)
    if device:
        sweep.configs = [dataclasses.replace(c, device=device) for c in sweep.configs]
    if sweep.probe:
        from common import mlp_probe

        print(f"---------- probe {sweep.name}: {len(sweep.configs)} configs x {len(seeds)} seed(s)")
        return mlp_probe.probe_sweep(
            sweep.name, sweep.configs, sweep.labels, datasets, seeds, out_dir
        )
    print(
        f"---------- sweep {sweep.name}: {len(sweep.configs)} configs x {len(seeds)} seed(s) ----------"
    )
    return mlp.run_sweep(
        sweep.name,
        sweep.configs,
        sweep.labels,
        datasets,
        seeds=seeds,
        out_dir=out_dir,
        epoch_plot_prefix=sweep.epoch_plot_prefix,
        ckpt_dir=ckpt_dir,
        embeddings=embeddings,
        resume=resume,
    )


def explore_mlp_structures(
    dev_d,
    train_d,
    test_d,
    embeddings,
    *,
    seeds: Sequence[int] = (0,),
    num_epochs: int = 20,
    out_dir=DEFAULT_OUT_DIR,
    ckpt_dir=None,
    resume=False,
    device=None,
) -> dict:
    """6.1.3: hidden layers [], [512], [512, 512], [512, 512, 512]. Splits may be raw dicts or TensorDatasets."""
    return _explore(
        structure_sweep(num_epochs),
        dev_d,
        train_d,
        test_d,
        embeddings,
        seeds,
        out_dir,
        ckpt_dir,
        resume,
        device,
    )


def explore_mlp_activations(
    dev_d,
    train_d,
    test_d,
    embeddings,
    *,
    seeds: Sequence[int] = (0,),
    num_epochs: int = 20,
    out_dir=DEFAULT_OUT_DIR,
    ckpt_dir=None,
    resume=False,
    device=None,
) -> dict:
    """6.1.4: Sigmoid, Tanh, ReLU, GeLU and LeakyReLU. Splits may be raw dicts or TensorDatasets."""
    return _explore(
        activation_sweep(num_epochs),
        dev_d,
        train_d,
        test_d,
        embeddings,
        seeds,
        out_dir,
        ckpt_dir,
        resume,
        device,
    )


def explore_mlp_learning_rates(
    dev_d,
    train_d,
    test_d,
    embeddings,
    *,
    seeds: Sequence[int] = (0,),
    num_epochs: int = 20,
    out_dir=DEFAULT_OUT_DIR,
    ckpt_dir=None,
    resume=False,
    device=None,
) -> dict:
    """6.1.5: learning rates 1e-4 ... 1e-1. Splits may be raw dicts or TensorDatasets."""
    return _explore(
        learning_rate_sweep(num_epochs),
        dev_d,
        train_d,
        test_d,
        embeddings,
        seeds,
        out_dir,
        ckpt_dir,
        resume,
        device,
    )


def explore_mlp_depth_vs_lr(
    dev_d,
    train_d,
    test_d,
    embeddings,
    *,
    seeds: Sequence[int] = (0,),
    num_epochs: int = 20,
    out_dir=DEFAULT_OUT_DIR,
    ckpt_dir=None,
    resume=False,
    device=None,
) -> dict:
    """6.1.3's control: one and three hidden layers at lr 0.02 and 0.001 (not in the course skeleton)."""
    return _explore(
        depth_vs_lr_sweep(num_epochs),
        dev_d,
        train_d,
        test_d,
        embeddings,
        seeds,
        out_dir,
        ckpt_dir,
        resume,
        device,
    )


EXPLORERS = {
    "structures": explore_mlp_structures,
    "activations": explore_mlp_activations,
    "learning_rates": explore_mlp_learning_rates,
    "depth_vs_lr": explore_mlp_depth_vs_lr,
}


# --------------------------------------------------------------------------- the MLP sweeps
def _quick_slice(split: RawSplit, n: int) -> RawSplit:
    return {k: v[:n] for k, v in split.items()}


def cmd_mlp(args) -> dict:
    """Load IMDB and GloVe once, featurize once, run the chosen sweeps; returns {sweep: history}."""
    started = time.perf_counter()
    dev_d, train_d, test_d = load_data_mlp(data_dir=args.data_dir)
    if args.quick:
        dev_d, train_d, test_d = (
            _quick_slice(s, n) for s, n in zip((dev_d, train_d, test_d), (300, 1500, 300))
        )
    embeddings = glove.load_glove(data_dir=args.data_dir)
    t0 = time.perf_counter()
    datasets = mlp.create_tensor_datasets([dev_d, train_d, test_d], embeddings)
    print(
        f"featurized {sum(len(d['text']) for d in (dev_d, train_d, test_d))} reviews in "
        f"{time.perf_counter() - t0:.1f} s (data loading took {t0 - started:.1f} s)"
    )
    seeds = list(range(args.seed, args.seed + (1 if args.quick else args.seeds)))
    num_epochs = 3 if args.quick else args.epochs
    results = {}
    for name in args.sweeps:
        if name in EXPLORERS:
            explore = EXPLORERS[name]
        else:  # a sweep without a course-skeleton face

            def explore(*splits, num_epochs, **kwargs):
                return _explore(SWEEPS[name](num_epochs), *splits, **kwargs)

        results[name] = explore(
            *datasets,
            embeddings,
            seeds=seeds,
            num_epochs=num_epochs,
            out_dir=args.out_dir,
            ckpt_dir=args.ckpt_dir,
            resume=args.resume,
            device=args.device,
        )
        print(f"sweep {name} took {results[name]['wall_seconds']:.1f} s")
    print(
        f"MLP sweeps done in {time.perf_counter() - started:.1f} s (data loading included); "
        f"plots and JSON in {args.out_dir}/"
    )
    return results


def cmd_written(args) -> None:
    from written import answers as written

    written.main(args)


def cmd_sentiment(args) -> dict:
    """Beyond the handout (sentiment/ngrams.py): the table of bag-of-n-gram models on the course's IMDB splits,
    each row over --seeds seeds; plots/sentiment_ngrams.json and _dev_acc.png. Not part of `all` (it takes minutes)."""
    from sentiment import ngrams as sentiment_ngrams

    splits, glove = sentiment_ngrams.load_inputs(args.data_dir, quick=args.quick)
    rows = sentiment_ngrams.ROWS
    if args.quick:
        rows = sentiment_ngrams.quick_rows(rows, glove.vector_size)
    seeds = list(range(args.seed, args.seed + (1 if args.quick else args.seeds)))
    return sentiment_ngrams.run_sentiment(
        splits,
        glove,
        seeds=seeds,
        rows=rows,
        out_dir=args.out_dir,
        course_dir=Path(__file__).resolve().parent / DEFAULT_OUT_DIR,
        command="python main.py " + " ".join(args.argv),
    )


def cmd_replot_all(args) -> list:
    """Redraw every plot of OUT_DIR from its JSON, without training: the language model's
    (nplm/run.py's replot), the MLP sweeps' (`mlp.plot_sweep`, from OUT_DIR/mlp_*.json) and the
    sentiment table's."""
    import json

    from sentiment import ngrams as sentiment_ngrams

    drawn = cmd_replot(args)
    prefixes = {sweep().name: sweep().epoch_plot_prefix for sweep in SWEEPS.values()}
    for path in sorted(Path(args.out_dir).glob("mlp_*.json")):
        history = json.loads(path.read_text())
        name = history.get("sweep") if isinstance(history, dict) else None
        if name in prefixes and not SWEEPS_BY_NAME[name]().probe:
            drawn += mlp.plot_sweep(history, path.parent, prefixes[name])
    table = Path(args.out_dir) / "sentiment_ngrams.json"
    if table.is_file():
        history = json.loads(table.read_text())
        drawn.append(
            sentiment_ngrams.plot_rows(history, table.with_name("sentiment_ngrams_dev_acc.png"))
        )
    print(f"redrew {len(drawn)} plots in all")
    return drawn


def cmd_all(args) -> None:
    cmd_written(args)
    cmd_mlp(args)
    cmd_lm(args)


# --------------------------------------------------------------------------- flags
def _number(kind, low=None, high=None, high_open=False):
    """An argparse type: a `kind` in [low, high] (or [low, high)); the error says what is expected."""

    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            value = None
        ok = (
            value is not None
            and value == value
            and (low is None or value >= low)
            and (high is None or value < high or (value == high and not high_open))
        )
        if not ok:
            what = "a whole number" if kind is int else "a number"
            if high is None:
                raise argparse.ArgumentTypeError(f"must be {what} >= {low:g}, got {text!r}")
            raise argparse.ArgumentTypeError(
                f"must be in [{low:g}, {high:g}{')' if high_open else ']'}, got {text!r}"
            )
        return value

    return parse


def _dest(flag: str) -> str:
    return flag.lstrip("-").replace("-", "_")


def lm_config(args) -> LMRunConfig:
    """The language model's config, built once from the flags: a preset with the flags that were given. A value
    out of range is refused by LMConfig.validate, whose utils.ConfigError names the field."""
    overrides = {
        field: getattr(args, _dest(flag))
        for flag, field, _ in LM_FIELD_FLAGS
        if getattr(args, _dest(flag), None) is not None
        and (flag != "--epochs" or args.command == "lm")
    }
    for field in ("tie_embeddings", "fast"):
        if field in overrides:
            overrides[field] = overrides[field] == "on"
    if args.device:
        overrides["device"] = args.device
    preset = "quick" if args.quick else args.config
    return LMRunConfig.preset(
        preset, seed=args.seed, save_path=str(lm_checkpoint(args)), **overrides
    )


def _flag_of(err: utils.ConfigError) -> str:
    """The flag that sets the field of a config error (the field's name when no flag does)."""
    flags = {field: flag for flag, field, _ in LM_FIELD_FLAGS}
    flags.update(
        seed="--seed",
        device="--device",
        **({"num_epochs": "--epochs"} if "MLP" in str(err) else {}),
    )
    return flags.get(err.field, err.field)


def _run_name(text: str) -> str:
    if not text or not all(c.isalnum() or c in "-_" for c in text) or not text.isascii():
        raise argparse.ArgumentTypeError(
            f"must be letters, digits, - and _ (a file name), got {text!r}"
        )
    return text


COMMON_FLAGS = [
    (
        ("--data-dir",),
        dict(
            type=Path,
            help=f"folder with imdb/, glove/, wikitext-2/ (default: "
            f"${datafiles.DATA_DIR_ENV} or ../shared/data)",
        ),
    ),
    (
        ("--out-dir",),
        dict(
            type=Path,
            help=f"where plots and JSON go (default: {DEFAULT_OUT_DIR}/, or "
            f"{QUICK_OUT_DIR}/ with --quick)",
        ),
    ),
    (
        ("--ckpt-dir",),
        dict(
            type=Path,
            help="where checkpoints go (default: checkpoints/, or "
            "runs/quick/checkpoints with --quick)",
        ),
    ),
    (
        ("--quick",),
        dict(
            action="store_true", help="small slices and few epochs: a smoke run in under a minute"
        ),
    ),
    (("--seed",), dict(type=int, help="first seed, >= 0 (default 0)")),
    (
        ("--device",),
        dict(help="auto (CUDA, then MPS, then the CPU: the default), cpu, cuda, cuda:N or mps"),
    ),
    (
        ("--debug",),
        dict(
            action="store_true",
            help=f"show the Python traceback of an error (or set {DEBUG_ENV}=1)",
        ),
    ),
]
MLP_FLAGS = [
    (
        ("--seeds",),
        dict(
            type=_number(int, 1),
            help="seeds per config; plots show the mean and the band across "
            "seeds (default 3; 1 with --quick)",
        ),
    ),
    (("--epochs",), dict(type=int, help="epochs per run (default 20, as the course)")),
    (
        ("--sweeps",),
        dict(
            nargs="+",
            choices=list(SWEEPS),
            help="which sweeps of 6.1 to run (default: all: the "
            "handout's three and depth_vs_lr, the control of 6.1.3)",
        ),
    ),
    (
        ("--resume",),
        dict(
            action="store_true",
            help="keep the runs an interrupted sweep finished and run the rest "
            "(with `all`: the language model's training goes on too)",
        ),
    ),
]
LM_CONFIG_FLAG = (
    ("--config",),
    dict(
        choices=["default", "long", "course"],
        help="language-model preset: default (< 20 min on 2 cores), long (wider, "
        "more epochs) or course (the course's model and optimiser, no additions)",
    ),
)
ON_OFF = dict(choices=["on", "off"], metavar="{on,off}")
# Every language-model field a user tunes: (flag, LMConfig field, argparse keywords). argparse parses the type
# only; LMConfig.validate checks the value, once, and `lm_config` names the flag in its error. Unset: the preset's
# (the help shows the default preset's value).
LM_FIELD_FLAGS = [
    ("--epochs", "num_epochs", dict(type=int, help="epochs")),
    (
        "--batch-size",
        "batch_size",
        dict(type=int, help="training batch size, split between torchrun's processes"),
    ),
    ("--eval-batch-size", "eval_batch_size", dict(type=int, help="batch size for scoring")),
    ("--lr", "lr", dict(type=float, help="peak learning rate")),
    (
        "--decay",
        "decay",
        dict(
            type=float,
            help="ExponentialLR's gamma per batch, in (0, 1], with --schedule "
            "exponential (the course's)",
        ),
    ),
    (
        "--optimizer",
        "optimizer",
        dict(choices=["adam", "adamw"], help="adamw or the course's adam"),
    ),
    (
        "--schedule",
        "schedule",
        dict(choices=list(SCHEDULES), help="learning-rate schedule after the warmup"),
    ),
    ("--warmup-steps", "warmup_steps", dict(type=int, help="linear warmup steps")),
    ("--weight-decay", "weight_decay", dict(type=float, help="decoupled weight decay")),
    (
        "--patience",
        "patience",
        dict(type=int, help="stop after this many epochs without a better dev perplexity"),
    ),
    ("--embed-dim", "embed_dim", dict(type=int, help="word embedding size E")),
    ("--hidden-dim", "hidden_dim", dict(type=int, help="hidden size H")),
    ("--num-blocks", "num_blocks", dict(type=int, help="residual blocks after the first")),
    ("--window", "local_window_size", dict(type=int, help="words W before the target")),
    ("--dropout", "dropout_p", dict(type=float, help="dropout rate after each block, in [0, 1)")),
    (
        "--output-layer",
        "output_layer",
        dict(choices=["adaptive", "full"], help="adaptive softmax or the course's full softmax"),
    ),
    (
        "--cutoffs",
        "cutoffs",
        dict(type=int, nargs="+", help="the adaptive softmax's cluster bounds"),
    ),
    (
        "--div-value",
        "div_value",
        dict(type=float, help="the adaptive softmax's width ratio per cluster"),
    ),
    (
        "--global-window",
        "global_window",
        dict(type=int, help="far words averaged into a global context (0: none)"),
    ),
    (
        "--global-chunks",
        "global_chunks",
        dict(type=int, help="equal chunks of the far words, one mean each"),
    ),
    (
        "--global-dropout",
        "global_dropout_p",
        dict(type=float, help="share of training examples whose far words are hidden, in [0, 1)"),
    ),
    (
        "--tie-embeddings",
        "tie_embeddings",
        dict(**ON_OFF, help="output word vectors shared with the input embeddings"),
    ),
    (
        "--embed-dropout",
        "embed_dropout_p",
        dict(
            type=float, help="share of word types dropped from a batch's input lookups, in [0, 1)"
        ),
    ),
    (
        "--input-dropout",
        "input_dropout_p",
        dict(type=float, help="dropout on the concatenated context vectors, in [0, 1)"),
    ),
    (
        "--ema-decay",
        "ema_decay",
        dict(type=float, help="weight-average decay, in [0, 1) (0: score the last iterate)"),
    ),
    (
        "--fast",
        "fast",
        dict(**ON_OFF, help="our kernels and batches, or the course's DataLoader pipeline"),
    ),
    (
        "--precision",
        "precision",
        dict(choices=["fp32", "bf16"], help="bf16: autocast where the device supports it"),
    ),
    (
        "--cache-size",
        "cache_size",
        dict(
            type=int,
            help="after training, also score the best model with a "
            "continuous cache of this many tokens (0: off)",
        ),
    ),
    (
        "--dynamic-segment",
        "dynamic_segment",
        dict(
            type=int,
            help="after training, also score the best model with "
            "dynamic evaluation in segments of this many "
            "tokens (0: off)",
        ),
    ),
    (
        "--max-train-tokens",
        "max_train_tokens",
        dict(type=int, help="train on a prefix of this many tokens"),
    ),
    (
        "--max-dev-tokens",
        "max_dev_tokens",
        dict(type=int, help="score dev and test prefixes of this many tokens"),
    ),
    (
        "--min-count",
        "min_count",
        dict(type=int, help="words seen fewer times in train become <unk>"),
    ),
    ("--threads", "num_threads", dict(type=int, help="torch threads")),
    ("--print-every", "print_every", dict(type=int, help="log every this many steps (0: never)")),
]


def _with_default(field: str, kwargs: dict) -> dict:
    """The flag's keywords, its help ending with the default preset's value."""
    value = getattr(LMRunConfig.preset("default"), field)
    shown = (
        ("on" if value else "off")
        if isinstance(value, bool)
        else (
            " ".join(map(str, value))
            if isinstance(value, list)
            else "none"
            if value is None
            else f"{value:g}"
            if isinstance(value, float)
            else value
        )
    )
    return {**kwargs, "help": f"{kwargs['help']} (default: {shown})"}


LM_FLAGS = [
    LM_CONFIG_FLAG,
    (
        ("--resume",),
        dict(action="store_true", help="continue an interrupted run from its last finished epoch"),
    ),
    (
        ("--name",),
        dict(
            type=_run_name,
            help="name the run's files mlp_lm_NAME.* (default: the preset's name); "
            "letters, digits, - and _",
        ),
    ),
    *(((flag,), _with_default(field, kwargs)) for flag, field, kwargs in LM_FIELD_FLAGS),
]
CHECKPOINT_FLAG = (
    ("--checkpoint",),
    dict(
        type=Path,
        help="default: CKPT_DIR/mlp_lm.pt (mlp_lm_long.pt with "
        "--config long, mlp_lm_quick.pt with --quick)",
    ),
)
SAMPLE_FLAGS = [
    LM_CONFIG_FLAG,
    CHECKPOINT_FLAG,
    (("--prompt",), dict(help="the text to continue (default: the course's prompt)")),
    (
        ("--top-p",),
        dict(
            type=_number(float, 0.0, 1.0),
            help="sample once with this top_p in [0, 1] (0 is greedy) "
            "instead of greedy, 0.3 and 1.0",
        ),
    ),
    (("--max-len",), dict(type=_number(int, 0), help="tokens to generate (default 30)")),
]
CACHE_FLAGS = [
    LM_CONFIG_FLAG,
    CHECKPOINT_FLAG,
    (("--cache-size",), dict(type=_number(int, 1), help="past tokens in the cache (default 2000)")),
]
DYNAMIC_FLAGS = [
    LM_CONFIG_FLAG,
    CHECKPOINT_FLAG,
    (
        ("--dynamic-segment",),
        dict(type=_number(int, 1), help="tokens scored between two steps (default 50)"),
    ),
    (
        ("--cache-size",),
        dict(
            type=_number(int, 0),
            help="past tokens in the continuous cache combined with it (default 2000; 0: none)",
        ),
    ),
]
DEFAULTS = {
    "data_dir": None,
    "out_dir": None,
    "ckpt_dir": None,
    "quick": False,
    "seed": 0,
    "device": None,
    "debug": False,
    "resume": False,
    "seeds": 3,
    "sweeps": list(SWEEPS),
    "config": "default",
    "checkpoint": None,
    "name": None,
    "prompt": mlp_lm.COURSE_PROMPT,
    "top_p": None,
    "max_len": 30,
    **{_dest(flag): None for flag, _, _ in LM_FIELD_FLAGS},
}
COMMANDS = {  # name: (help, function, flags)
    "all": (
        "run everything (the default): written checks and figures, the MLP sweeps, the language model",
        cmd_all,
        MLP_FLAGS,
    ),
    "mlp": (
        "the three MLP sweeps of section 6.1 (structures, activations, learning rates)",
        cmd_mlp,
        MLP_FLAGS,
    ),
    "lm": (
        "train and score the fixed-window neural language model on WikiText-2",
        cmd_lm,
        LM_FLAGS,
    ),
    "sample": ("generate text from a saved language-model checkpoint", cmd_sample, SAMPLE_FLAGS),
    "cache": (
        "score a saved language-model checkpoint with a continuous cache (dev-tuned, then test)",
        cmd_cache,
        CACHE_FLAGS,
    ),
    "dynamic": (
        "score a saved language-model checkpoint with dynamic evaluation, alone and with the cache",
        cmd_dynamic,
        DYNAMIC_FLAGS,
    ),
    "written": (
        "check every written answer (sections 1-5) and draw Figures 1 and 2",
        cmd_written,
        [],
    ),
    "replot": (
        "redraw the plots of OUT_DIR from their JSON (language model, MLP sweeps, sentiment)",
        cmd_replot_all,
        [],
    ),
    "sentiment": (
        "beyond the handout: bags of n-grams, trained embeddings and NB weighting on the IMDB splits",
        cmd_sentiment,
        [MLP_FLAGS[0]],
    ),
}


class _Parser(argparse.ArgumentParser):
    """argparse with its usage errors on one line (usage is one `--help` away), exit code 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def _add_flags(parser: argparse.ArgumentParser, flags) -> None:
    # No default here: a flag given before the command must survive the sub-command's parser, and a flag
    # that was not given is told apart from one that was (defaults are filled in by parse_args).
    for names, kwargs in flags:
        parser.add_argument(*names, default=argparse.SUPPRESS, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="main.py",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Run `python main.py COMMAND --help` for the flags of one command. Flags may come before or "
        "after the command.",
    )
    _add_flags(parser, COMMON_FLAGS + MLP_FLAGS)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (help_text, _, flags) in COMMANDS.items():
        _add_flags(
            sub.add_parser(name, help=help_text, description=help_text), COMMON_FLAGS + flags
        )
    return parser


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse, reject a flag given before a command that does not take it, fill the defaults, and build the
    language model's config: every value is checked here, before any data is read or file written."""
    parser = build_parser()
    args = parser.parse_args(argv)
    args.command = args.command or "all"
    help_text, args.func, flags = COMMANDS[args.command]

    def fail(message: str):
        parser.exit(
            2, f"main.py {args.command}: error: {message} (see `main.py {args.command} --help`)\n"
        )

    accepted = {
        kwargs.get("dest", names[0].lstrip("-").replace("-", "_"))
        for names, kwargs in COMMON_FLAGS + flags
    }
    stray = sorted(set(vars(args)) - accepted - {"command", "func"})
    if stray:
        fail(f"--{stray[0].replace('_', '-')} does not apply to `{args.command}`")
    for dest, value in DEFAULTS.items():
        if not hasattr(args, dest):
            setattr(args, dest, value)
    try:
        utils.get_device(args.device)
    except ValueError as err:
        fail(f"--device: {err}")
    args.out_dir = args.out_dir or (QUICK_OUT_DIR if args.quick else DEFAULT_OUT_DIR)
    args.ckpt_dir = args.ckpt_dir or (
        QUICK_OUT_DIR / "checkpoints" if args.quick else Path("checkpoints")
    )
    args.epochs = (
        args.epochs if args.epochs is not None or args.command not in ("all", "mlp") else 20
    )
    if args.command in ("cache", "dynamic"):
        args.cache_size = 2000 if getattr(args, "cache_size", None) is None else args.cache_size
    if args.command == "dynamic":
        args.dynamic_segment = args.dynamic_segment or DYNAMIC_SEGMENT
    try:  # each value checked once, by the config that takes it
        if args.command in ("mlp", "all"):
            MLPConfig(num_epochs=args.epochs, seed=args.seed)
        if args.command in ("lm", "all"):
            args.lm_config = lm_config(args)
        elif args.command == "sample":
            LMRunConfig(seed=args.seed)
    except utils.ConfigError as err:
        fail(f"{_flag_of(err)}: must be {err.expected}, got {str(err.value)!r}")
    if args.command in ("lm", "all"):
        try:  # the preset's device too, as this process under torchrun would take it
            utils.get_device(args.lm_config.device)
        except ValueError as err:
            fail(f"--device: {err}")
        if lm_distributed.distributed_env()[1] > 1 and not args.lm_config.fast:
            fail(
                f"the {args.lm_config.name} config trains in one process (the course's DataLoader pipeline); "
                f"run it without torchrun"
            )
        if args.command == "lm" and args.resume and not lm_state(args).is_file():
            fail(
                f"--resume: nothing to resume, {lm_state(args)} does not exist; run without --resume"
            )
    writes = {
        "all": ("out_dir", "ckpt_dir"),
        "mlp": ("out_dir", "ckpt_dir"),
        "lm": ("out_dir", "ckpt_dir"),
        "cache": ("out_dir",),
        "dynamic": ("out_dir",),
        "written": ("out_dir",),
        "replot": ("out_dir",),
        "sentiment": ("out_dir",),
    }
    if args.command == "sentiment" and args.device not in (None, "auto", "cpu"):
        fail(
            f"--device {args.device}: `sentiment` trains on the CPU (sparse lookups); leave --device out"
        )
    for dest in writes.get(args.command, ()):
        problem = _unwritable(getattr(args, dest))
        if problem:
            fail(
                f"--{dest.replace('_', '-')} {getattr(args, dest)}: {problem}; pass a folder you can write to"
            )
    args.debug = args.debug or os.environ.get(DEBUG_ENV, "") not in ("", "0")
    args.argv = list(sys.argv[1:] if argv is None else argv)
    return args


def _unwritable(folder: Path) -> Optional[str]:
    """Why nothing can be written into `folder` (made if missing), or None: a file of that name, a read-only
    place, a missing parent that cannot be made. Checked by writing, since permission bits do not bind root."""
    if folder.exists() and not folder.is_dir():
        return "it is a file, not a folder"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        return f"cannot write there ({err.strerror or type(err).__name__})"
    return None


# Faults a user can cause and mend: one line on stderr and exit code 2 (a traceback only with --debug).
EXPECTED_FAULTS = (
    datafiles.DataNotFoundError,
    datafiles.DataFileError,
    glove.EmbeddingsFormatError,
    utils.TrainingDiverged,
    mlp_lm.CheckpointError,
)


def _interrupted(args) -> str:
    """What an interrupted command kept, and how to go on."""
    again = "python main.py " + " ".join(a for a in args.argv if a != "--resume") + " --resume"
    if args.command == "lm" or (args.command == "all" and lm_state(args).is_file()):
        state = lm_state(args)
        if not state.is_file():
            return "stopped before the first epoch ended; nothing was kept"
        return (
            f"the best checkpoint so far is {lm_checkpoint(args)} and the state after the last finished epoch "
            f"is {state}; `{again.strip()}` goes on from there"
        )
    if args.command in ("mlp", "all"):
        return (
            f"the sweep runs that finished are kept in {args.out_dir}/<sweep>.partial.json; "
            f"`{again.strip()}` runs only the others"
        )
    return "nothing was written"


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    signal.signal(
        signal.SIGINT, signal.default_int_handler
    )  # from here on Ctrl-C is a KeyboardInterrupt
    try:
        args.func(args)
    except KeyboardInterrupt:
        if args.debug:
            raise
        print(f"interrupted: {_interrupted(args)}", file=sys.stderr)
        return 130
    except EXPECTED_FAULTS as err:
        if args.debug:
            raise
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
