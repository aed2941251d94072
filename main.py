"""Homework 3: `python main.py` runs every experiment and writes plots and JSON in plots/.

    python main.py               # everything: written checks, MLP sweeps, the language model
    python main.py mlp           # the sweeps of 6.1 and 6.1.3's control (or: --sweeps NAME ...)
    python main.py lm            # train and score the fixed-window language model (mlp_lm.py)
    python main.py sample        # sample from a saved language-model checkpoint
    python main.py cache         # score a checkpoint with a continuous cache (Grave et al. 2017)
    python main.py dynamic       # ... with dynamic evaluation (Krause et al. 2018), and the cache
    python main.py lstm          # a small LSTM language model, a wall-clock budget (lm/lstm.py)
    python main.py written       # check every written answer (sections 1-5), draw Figures 1-2
    python main.py sentiment     # beyond the handout: bags of n-grams, NB weighting (IMDB)
    python main.py ... --quick   # the same on small slices, in seconds (into runs/quick)

The sweeps are data (`SWEEPS`): each is a list of configs and labels handed to `mlp.run_sweep`,
which runs them over the seeds, plots the curves and writes a JSON of every number.
`explore_mlp_structures`, `explore_mlp_activations` and `explore_mlp_learning_rates` keep the course
skeleton's signatures. The language model's commands (lm, sample, cache, dynamic, replot) are
lm/run.py's.

Every flag is declared once, in `FLAGS` (its help, the commands that take it, its default, the
LMConfig field it sets), and every command in `COMMANDS`; `parse_args` checks every value before any
data is read or file written, and builds the language model's config once, from its preset and the
flags given.
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
    _signal.signal(
        _signal.SIGTERM,
        lambda *_: (print("terminated: nothing was written", file=_sys.stderr), _sys.exit(143)),
    )

import argparse
import dataclasses
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, List, Optional, Sequence


from common import datafiles
from common import download
from common import glove
from common import reference as reference_run
import mlp
import mlp_lm
import utils
from lm.scoring import DYNAMIC_SEGMENT
from lm.lstm import LSTMConfig, cmd_lstm, lstm_stem
from nplm.optim import SCHEDULES
from lm.config import LMRunConfig
from lm.run import (
    cmd_cache,
    cmd_dynamic,
    cmd_lm,
    cmd_replot,
    cmd_sample,
    lm_checkpoint,
    lm_state,
)
from mlp import ACTIVATION_NAMES, MLPConfig, RawSplit, load_data_mlp
from written import answers, figures

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
    if getattr(embeddings, "name", None):  # the vectors load_glove loaded, in each run's config
        sweep.configs = [dataclasses.replace(c, embeddings=embeddings.name) for c in sweep.configs]
    if sweep.probe:
        from common import mlp_probe

        print(f"---------- probe {sweep.name}: {len(sweep.configs)} configs x {len(seeds)} seed(s)")
        return mlp_probe.probe_sweep(
            sweep.name, sweep.configs, sweep.labels, datasets, seeds, out_dir
        )
    print(
        f"---------- sweep {sweep.name}: {len(sweep.configs)} configs x {len(seeds)} seed(s) "
        "----------"
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
    """6.1.3: hidden layers [], [512], [512, 512], [512, 512, 512]. Splits may be raw dicts or
    TensorDatasets."""
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
    """6.1.3's control: one and three hidden layers at lr 0.02 and 0.001 (not in the course
    skeleton)."""
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
    embeddings = glove.load_glove(data_dir=args.data_dir, name=args.embeddings)
    if args.embeddings != "6b":  # runs on other vectors go beside those on GloVe 6B, not over them
        name = glove.EMBEDDINGS[args.embeddings][0]
        args.out_dir, args.ckpt_dir = args.out_dir / name, args.ckpt_dir / name
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


def cmd_written(args) -> list:
    """`python main.py written`: print every check of sections 1-5 (written/answers.py) with PASS or
    FAIL and its numbers, draw Figures 1-2 (written/figures.py) into OUT_DIR; SystemExit(1) if a
    check fails."""
    results = answers.run_all_checks()
    width = max(len(r.claim) for r in results)
    section = None
    for r in results:
        if r.section != section:
            section = r.section
            print(f"\n== section {section}")
        print(f"[{'PASS' if r.passed else 'FAIL'}] {r.claim:<{width}}  {r.numbers}")
    for path in figures.make_figures(Path(args.out_dir)):
        print(f"wrote {path}")
    failed = [r for r in results if not r.passed]
    print(f"\n{len(results) - len(failed)}/{len(results)} checks passed")
    if failed:
        raise SystemExit(1)
    return results


def cmd_sentiment(args) -> dict:
    """Beyond the handout (sentiment/ngrams.py): the table of bag-of-n-gram models on the course's
    IMDB splits, each row over --seeds seeds; plots/sentiment_ngrams.json and _dev_acc.png. Not part
    of `all` (it takes minutes)."""
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


def cmd_compare(args) -> None:
    """Print the run in --out-dir beside the committed run (reference/) and what reproduced."""
    print(reference_run.report(args.out_dir, Path(__file__).resolve().parent / "reference"))


def cmd_replot_all(args) -> list:
    """Redraw every plot of OUT_DIR from its JSON, without training: the language model's
    (lm/run.py's replot), the MLP sweeps' (`mlp.plot_sweep`, from OUT_DIR/mlp_*.json) and the
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
    """An argparse type: a `kind` in [low, high] (or [low, high)); the error says what is
    expected."""

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
            bound = ")" if high_open else "]"
            raise argparse.ArgumentTypeError(f"must be in [{low:g}, {high:g}{bound}, got {text!r}")
        return value

    return parse


def _run_name(text: str) -> str:
    if not text or not text.isascii() or not all(c.isalnum() or c in "-_" for c in text):
        raise argparse.ArgumentTypeError(
            f"must be letters, digits, - and _ (a file name), got {text!r}"
        )
    return text


def _on_off(text: str) -> bool:
    if text not in ("on", "off"):
        raise argparse.ArgumentTypeError(f"must be on or off, got {text!r}")
    return text == "on"


@dataclasses.dataclass(frozen=True)
class Flag:
    """One command-line flag, declared once: its help, the commands that take it, its default (one
    value, {command: value} where commands differ, or a function of the parsed flags) and, for the
    language model's flags, the LMConfig field it sets (LMConfig.validate checks the value,
    once)."""

    name: str
    help: str
    commands: tuple
    default: Any = None
    field: Optional[str] = None
    kwargs: dict = dataclasses.field(
        default_factory=dict
    )  # argparse's type, choices, nargs, action

    @property
    def dest(self) -> str:
        return self.name.lstrip("-").replace("-", "_")

    def default_for(self, args):
        default = self.default
        if isinstance(default, dict):
            return default.get(args.command)
        return default(args) if callable(default) else default


EVERY = (
    "all",
    "mlp",
    "lm",
    "sample",
    "cache",
    "dynamic",
    "written",
    "replot",
    "sentiment",
    "compare",
    "data",
    "lstm",
)
SWEEPING, LM, SCORING = ("all", "mlp"), ("lm",), ("sample", "cache", "dynamic")
LSTM = ("lstm",)
FIELD = dict(commands=LM)  # a field of the language model's config: `lm` takes it
BOTH = dict(commands=(*LM, *LSTM))  # ... that `lstm` takes too, for its own config (LSTM_FIELDS)
FLAGS = [
    Flag(
        "--data-dir",
        f"folder with imdb/, glove/, wikitext-2/ (default: ${datafiles.DATA_DIR_ENV}, "
        "else ../shared/data, else ~/.cache/hw3/data)",
        EVERY,
        kwargs=dict(type=Path),
    ),
    Flag(
        "--out-dir",
        f"where plots and JSON go (default: {DEFAULT_OUT_DIR}/, or {QUICK_OUT_DIR}/ with --quick)",
        EVERY,
        lambda a: QUICK_OUT_DIR if a.quick else DEFAULT_OUT_DIR,
        kwargs=dict(type=Path),
    ),
    Flag(
        "--ckpt-dir",
        "where checkpoints go (default: checkpoints/, or runs/quick/checkpoints with --quick)",
        EVERY,
        lambda a: QUICK_OUT_DIR / "checkpoints" if a.quick else Path("checkpoints"),
        kwargs=dict(type=Path),
    ),
    Flag(
        "--quick",
        "small slices and few epochs: a smoke run in under a minute",
        EVERY,
        False,
        kwargs=dict(action="store_true"),
    ),
    Flag("--seed", "first seed, >= 0 (default 0)", EVERY, 0, kwargs=dict(type=int)),
    Flag(
        "--device",
        "auto (CUDA, then MPS, then the CPU: the default), cpu, cuda, cuda:N or mps",
        EVERY,
    ),
    Flag(
        "--debug",
        f"show the Python traceback of an error (or set {DEBUG_ENV}=1)",
        EVERY,
        False,
        kwargs=dict(action="store_true"),
    ),
    Flag(
        "--seeds",
        "seeds per config; plots show the mean and the band across seeds (default 3; 1 "
        "with --quick)",
        (*SWEEPING, "sentiment"),
        3,
        kwargs=dict(type=_number(int, 1)),
    ),
    Flag(
        "--epochs",
        "epochs per run (default: 20 for the sweeps, the preset's for lm)",
        (*SWEEPING, *LM),
        {"all": 20, "mlp": 20},
        "num_epochs",
        dict(type=int),
    ),
    Flag(
        "--embeddings",
        "word vectors: 6b (GloVe 6B 50d, the default) or twitter (the course's "
        "glove-twitter-50; sweeps' results go to OUT_DIR/glove-twitter-50; `data` fetches it)",
        (*SWEEPING, "data"),
        "6b",
        kwargs=dict(choices=["6b", "twitter"]),
    ),
    Flag(
        "--full-train",
        "the whole official WikiText-2 train file (wiki.train.tokens.gz): `data` fetches it too, "
        "`lm` trains on it (its files and numbers named *_fulltrain)",
        ("data", *LM),
        False,
        kwargs=dict(action="store_true"),
    ),
    Flag(
        "--timeout",
        "seconds to wait to connect and for each read",
        ("data",),
        kwargs=dict(type=_number(float, 0.1)),
    ),
    Flag(
        "--keep-downloads",
        "keep the archives in DATA_DIR/.downloads",
        ("data",),
        False,
        kwargs=dict(action="store_true"),
    ),
    Flag(
        "--sweeps",
        "which sweeps of 6.1 to run (default: all: the handout's three and depth_vs_lr, "
        "the control of 6.1.3)",
        SWEEPING,
        lambda a: list(SWEEPS),
        kwargs=dict(nargs="+", choices=list(SWEEPS)),
    ),
    Flag(
        "--resume",
        "go on from an interrupted run: a sweep keeps the runs it finished, the language "
        "model goes on from its last finished epoch",
        (*SWEEPING, *LM),
        False,
        kwargs=dict(action="store_true"),
    ),
    Flag(
        "--config",
        "language-model preset: default (< 20 min on 2 cores), long (wider, more "
        "epochs) or course (the course's model and optimiser, no additions)",
        (*LM, *SCORING),
        "default",
        kwargs=dict(choices=["default", "long", "course"]),
    ),
    Flag(
        "--name",
        "name the run's files mlp_lm_NAME.* (lstm: lstm_lm_NAME.*; default: the preset's name); "
        "letters, digits, - and _",
        (*LM, *LSTM),
        kwargs=dict(type=_run_name),
    ),
    Flag(
        "--checkpoint",
        "default: CKPT_DIR/mlp_lm.pt (mlp_lm_long.pt with --config long, "
        "mlp_lm_quick.pt with --quick)",
        SCORING,
        kwargs=dict(type=Path),
    ),
    Flag(
        "--prompt",
        "the text to continue (default: the course's prompt)",
        ("sample",),
        mlp_lm.COURSE_PROMPT,
    ),
    Flag(
        "--top-p",
        "sample once with this top_p in [0, 1] (0 is greedy) instead of greedy, 0.3 and 1.0",
        ("sample",),
        kwargs=dict(type=_number(float, 0.0, 1.0)),
    ),
    Flag(
        "--max-len",
        "tokens to generate (default 30)",
        ("sample",),
        30,
        kwargs=dict(type=_number(int, 0)),
    ),
    # after training `lm` scores with these (0: off); `cache` and `dynamic` score a saved checkpoint
    Flag(
        "--cache-size",
        "past tokens in the continuous cache (lm, lstm: 0 is none; cache, dynamic: default 2000)",
        (*LM, "cache", "dynamic", *LSTM),
        {"cache": 2000, "dynamic": 2000},
        "cache_size",
        dict(type=int),
    ),
    Flag(
        "--ngram-order",
        "order of the Kneser-Ney n-gram model mixed with the network when scoring "
        "(lm, lstm: 0 is none)",
        field="ngram_order",
        kwargs=dict(type=int),
        **BOTH,
    ),
    Flag(
        "--dynamic-segment",
        f"dynamic evaluation's tokens between two steps (lm, lstm: 0 is none; "
        f"dynamic: default {DYNAMIC_SEGMENT})",
        (*LM, "dynamic", *LSTM),
        {"dynamic": DYNAMIC_SEGMENT},
        "dynamic_segment",
        dict(type=int),
    ),
    # every other field of the language model a user tunes: unset, the preset's value
    Flag(
        "--batch-size",
        "training batch size, split between torchrun's processes",
        field="batch_size",
        kwargs=dict(type=int),
        **BOTH,
    ),
    Flag(
        "--eval-batch-size",
        "batch size for scoring",
        field="eval_batch_size",
        kwargs=dict(type=int),
        **BOTH,
    ),
    Flag("--lr", "peak learning rate", field="lr", kwargs=dict(type=float), **BOTH),
    Flag(
        "--decay",
        "ExponentialLR's gamma per batch, in (0, 1], with --schedule exponential (the course's)",
        field="decay",
        kwargs=dict(type=float),
        **FIELD,
    ),
    Flag(
        "--optimizer",
        "adamw or the course's adam",
        field="optimizer",
        kwargs=dict(choices=["adam", "adamw"]),
        **FIELD,
    ),
    Flag(
        "--schedule",
        "learning-rate schedule after the warmup",
        field="schedule",
        kwargs=dict(choices=list(SCHEDULES)),
        **FIELD,
    ),
    Flag(
        "--warmup-steps",
        "linear warmup steps",
        field="warmup_steps",
        kwargs=dict(type=int),
        **FIELD,
    ),
    Flag(
        "--weight-decay",
        "decoupled weight decay",
        field="weight_decay",
        kwargs=dict(type=float),
        **FIELD,
    ),
    Flag(
        "--patience",
        "stop after this many epochs without a better dev perplexity",
        field="patience",
        kwargs=dict(type=int),
        **FIELD,
    ),
    Flag("--embed-dim", "word embedding size E", field="embed_dim", kwargs=dict(type=int), **BOTH),
    Flag("--hidden-dim", "hidden size H", field="hidden_dim", kwargs=dict(type=int), **BOTH),
    Flag(
        "--num-blocks",
        "residual blocks after the first",
        field="num_blocks",
        kwargs=dict(type=int),
        **FIELD,
    ),
    Flag(
        "--window",
        "words W before the target",
        field="local_window_size",
        kwargs=dict(type=int),
        **FIELD,
    ),
    Flag(
        "--dropout",
        "dropout rate after each block, in [0, 1)",
        field="dropout_p",
        kwargs=dict(type=float),
        **BOTH,
    ),
    Flag(
        "--output-layer",
        "adaptive softmax or the course's full softmax",
        field="output_layer",
        kwargs=dict(choices=["adaptive", "full"]),
        **FIELD,
    ),
    Flag(
        "--cutoffs",
        "the adaptive softmax's cluster bounds",
        field="cutoffs",
        kwargs=dict(type=int, nargs="+"),
        **FIELD,
    ),
    Flag(
        "--div-value",
        "the adaptive softmax's width ratio per cluster",
        field="div_value",
        kwargs=dict(type=float),
        **FIELD,
    ),
    Flag(
        "--global-window",
        "far words averaged into a global context (0: none)",
        field="global_window",
        kwargs=dict(type=int),
        **FIELD,
    ),
    Flag(
        "--global-chunks",
        "equal chunks of the far words, one mean each",
        field="global_chunks",
        kwargs=dict(type=int),
        **FIELD,
    ),
    Flag(
        "--global-pool",
        "how each chunk of far words is pooled: mean, or kernel (a learned weight per position)",
        field="global_pool",
        kwargs=dict(choices=("mean", "kernel")),
        **FIELD,
    ),
    Flag(
        "--global-dropout",
        "share of training examples whose far words are hidden, in [0, 1)",
        field="global_dropout_p",
        kwargs=dict(type=float),
        **FIELD,
    ),
    Flag(
        "--tie-embeddings",
        "output word vectors shared with the input embeddings (on or off)",
        field="tie_embeddings",
        kwargs=dict(type=_on_off, metavar="{on,off}"),
        **FIELD,
    ),
    Flag(
        "--embed-dropout",
        "share of word types dropped from a batch's input lookups, in [0, 1)",
        field="embed_dropout_p",
        kwargs=dict(type=float),
        **FIELD,
    ),
    Flag(
        "--input-dropout",
        "dropout on the concatenated context vectors, in [0, 1)",
        field="input_dropout_p",
        kwargs=dict(type=float),
        **FIELD,
    ),
    Flag(
        "--ema-decay",
        "weight-average decay, in [0, 1) (0: score the last iterate)",
        field="ema_decay",
        kwargs=dict(type=float),
        **FIELD,
    ),
    Flag(
        "--fast",
        "our kernels and batches, or the course's DataLoader pipeline (on or off)",
        field="fast",
        kwargs=dict(type=_on_off, metavar="{on,off}"),
        **FIELD,
    ),
    Flag(
        "--precision",
        "bf16: autocast where the device supports it",
        field="precision",
        kwargs=dict(choices=["fp32", "bf16"]),
        **FIELD,
    ),
    Flag(
        "--max-train-tokens",
        "train on a prefix of this many tokens",
        field="max_train_tokens",
        kwargs=dict(type=int),
        **BOTH,
    ),
    Flag(
        "--max-dev-tokens",
        "score dev and test prefixes of this many tokens",
        field="max_dev_tokens",
        kwargs=dict(type=int),
        **BOTH,
    ),
    Flag(
        "--min-count",
        "words seen fewer times in train become <unk>",
        field="min_count",
        kwargs=dict(type=int),
        **FIELD,
    ),
    Flag("--threads", "torch threads", field="num_threads", kwargs=dict(type=int), **BOTH),
    Flag(
        "--print-every",
        "log every this many steps (0: never)",
        field="print_every",
        kwargs=dict(type=int),
        **BOTH,
    ),
    # the LSTM's own (lm/lstm.py's LSTMConfig checks their values)
    Flag(
        "--budget",
        "seconds of training (the steps alone; dev scoring is timed apart), the learning-rate "
        "schedule spread over them (default 900; 5 with --quick)",
        LSTM,
        kwargs=dict(type=float, metavar="SECONDS"),
    ),
    Flag(
        "--bptt",
        "steps of truncated backpropagation through time (default 35)",
        LSTM,
        kwargs=dict(type=int),
    ),
]
# the flags that set a field of the LSTM's config, by their dest; unset, the config's value
LSTM_FIELDS = {
    "budget": "budget_seconds",
    "bptt": "bptt",
    "batch_size": "batch_size",
    "eval_batch_size": "eval_batch_size",
    "lr": "lr",
    "embed_dim": "embed_dim",
    "hidden_dim": "hidden_dim",
    "dropout": "dropout_p",
    "max_train_tokens": "max_train_tokens",
    "max_dev_tokens": "max_dev_tokens",
    "threads": "num_threads",
    "print_every": "print_every",
    "cache_size": "cache_size",
    "dynamic_segment": "dynamic_segment",
    "ngram_order": "ngram_order",
    "device": "device",
}


@dataclasses.dataclass(frozen=True)
class Command:
    help: str
    func: Callable
    writes: tuple = ()  # the folders it writes into, checked before any work
    needs: Callable = lambda args: None  # a check of its own flags: the problem, or None


def _at_least(low: int, *flags: str):
    """A command's check that each of `flags` is a whole number >= low (outside `lm`, where LMConfig
    checks them, a saved checkpoint's scoring takes them)."""

    def check(args):
        for flag in flags:
            value = getattr(args, Flag(flag, "", ()).dest)
            if value < low:
                return f"{flag}: must be a whole number >= {low}, got '{value}'"
        return None

    return check


COMMANDS = {
    "all": Command(
        "run everything (the default): written checks and figures, the MLP sweeps, the "
        "language model",
        cmd_all,
        ("out_dir", "ckpt_dir"),
    ),
    "mlp": Command(
        "the three MLP sweeps of section 6.1 (structures, activations, learning rates)",
        cmd_mlp,
        ("out_dir", "ckpt_dir"),
    ),
    "lm": Command(
        "train and score the fixed-window neural language model on WikiText-2",
        cmd_lm,
        ("out_dir", "ckpt_dir"),
    ),
    "sample": Command("generate text from a saved language-model checkpoint", cmd_sample),
    "cache": Command(
        "score a saved language-model checkpoint with a continuous cache (dev-tuned, then test)",
        cmd_cache,
        ("out_dir",),
        _at_least(1, "--cache-size"),
    ),
    "dynamic": Command(
        "score a saved language-model checkpoint with dynamic evaluation, alone and with the cache",
        cmd_dynamic,
        ("out_dir",),
        lambda a: _at_least(1, "--dynamic-segment")(a) or _at_least(0, "--cache-size")(a),
    ),
    "written": Command(
        "check every written answer (sections 1-5) and draw Figures 1 and 2",
        cmd_written,
        ("out_dir",),
    ),
    "replot": Command(
        "redraw the plots of OUT_DIR from their JSON (language model, MLP sweeps, sentiment)",
        cmd_replot_all,
        ("out_dir",),
    ),
    "sentiment": Command(
        "beyond the handout: bags of n-grams, trained embeddings and NB weighting "
        "on the IMDB splits",
        cmd_sentiment,
        ("out_dir",),
        lambda a: (
            None
            if a.device in (None, "auto", "cpu")
            else f"--device {a.device}: `sentiment` trains on the CPU (sparse lookups); "
            f"leave --device out"
        ),
    ),
    "lstm": Command(
        "train a small LSTM language model for a wall-clock budget and score it as `lm` does",
        cmd_lstm,
        ("out_dir", "ckpt_dir"),
    ),
    "data": Command(
        "fetch the data sets that are missing from the data folder, checked (docs/data.md)",
        download.cmd_data,
    ),
    "compare": Command(
        "print the run in OUT_DIR beside the committed run (reference/) and say what reproduced",
        cmd_compare,
    ),
}


def _help(flag: Flag, command: str) -> str:
    """The flag's help, ending with the default preset's value for a language-model field (the
    LSTM's default config's for `lstm`)."""
    if command == "lstm" and flag.dest in LSTM_FIELDS and flag.dest not in ("budget", "bptt"):
        value = getattr(LSTMConfig(), LSTM_FIELDS[flag.dest])
        return f"{flag.help} (lstm default: {'none' if value is None else value})"
    if flag.field is None or command != "lm" or isinstance(flag.default, dict):
        return flag.help
    value = getattr(LMRunConfig.preset("default"), flag.field)
    shown = (
        ("on" if value else "off")
        if isinstance(value, bool)
        else " ".join(map(str, value))
        if isinstance(value, list)
        else "none"
        if value is None
        else f"{value:g}"
        if isinstance(value, float)
        else value
    )
    return f"{flag.help} (default: {shown})"


def lm_config(args) -> LMRunConfig:
    """The language model's config, built once from the flags: a preset with the fields of the flags
    that were given. A value out of range is refused by LMConfig.validate (a utils.ConfigError
    naming the field)."""
    overrides = {f.field: getattr(args, f.dest) for f in FLAGS if f.field and f.dest in args.given}
    if args.device:
        overrides["device"] = args.device
    preset = "quick" if args.quick else args.config
    return LMRunConfig.preset(
        preset, seed=args.seed, save_path=str(lm_checkpoint(args)), **overrides
    )


def _flag_of(field: str) -> str:
    """The flag that sets a config field (the field's name when no flag does)."""
    return {f.field or f.dest: f.name for f in FLAGS}.get(field, field)


def lstm_config(args) -> LSTMConfig:
    """The LSTM's config, built once from the flags: the default (or --quick) config with the
    fields of the flags given (LSTM_FIELDS); a value out of range is refused by
    LSTMConfig.validate."""
    overrides = {
        field: getattr(args, dest) for dest, field in LSTM_FIELDS.items() if dest in args.given
    }
    name = args.name or ("quick" if args.quick else "default")
    save_path = str(args.ckpt_dir / f"{lstm_stem(name)}.pt")
    build = LSTMConfig.quick if args.quick else LSTMConfig
    return build(**{"seed": args.seed, "save_path": save_path, "name": name, **overrides})


def _lstm_flag_of(field: str) -> str:
    return {v: "--" + k.replace("_", "-") for k, v in LSTM_FIELDS.items()}.get(
        field, "--" + field.replace("_", "-")
    )


class _Parser(argparse.ArgumentParser):
    """argparse with its usage errors on one line (usage is one `--help` away), exit code 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    """Each command's parser takes the flags that name it. The flags of `all` may also come before
    the command (or stand alone: `python main.py --quick`); a flag's default is filled in by
    parse_args, so that one given before the command survives the command's parser."""
    parser = _Parser(
        prog="main.py",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Run `python main.py COMMAND --help` for the flags of one command.",
    )
    for flag in FLAGS:
        if "all" in flag.commands:
            parser.add_argument(flag.name, default=argparse.SUPPRESS, help=flag.help, **flag.kwargs)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, command in COMMANDS.items():
        each = sub.add_parser(name, help=command.help, description=command.help)
        for flag in FLAGS:
            if name in flag.commands:
                each.add_argument(
                    flag.name, default=argparse.SUPPRESS, help=_help(flag, name), **flag.kwargs
                )
    return parser


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse, reject a flag given before a command that does not take it, fill the defaults, and
    build the configs: every value is checked here, before any data is read or file written."""
    parser = build_parser()
    args = parser.parse_args(argv)
    args.command = args.command or "all"
    command = COMMANDS[args.command]
    args.func = command.func

    def fail(message: str):
        parser.exit(
            2, f"main.py {args.command}: error: {message} (see `main.py {args.command} --help`)\n"
        )

    args.given = set(vars(args)) - {"command", "func"}
    stray = sorted(f.name for f in FLAGS if f.dest in args.given and args.command not in f.commands)
    if stray:
        fail(f"{stray[0]} does not apply to `{args.command}`")
    # every flag's attribute exists, for every command; defaults that depend on other flags come
    # last
    for flag in sorted(FLAGS, key=lambda f: callable(f.default)):
        if flag.dest not in args.given:
            setattr(args, flag.dest, flag.default_for(args))
    try:
        utils.get_device(args.device)
    except ValueError as err:
        fail(f"--device: {err}")
    problem = command.needs(args)
    if problem:
        fail(problem)
    try:  # each value checked once, by the config that takes it
        if args.command in SWEEPING:
            MLPConfig(num_epochs=args.epochs, seed=args.seed)
        if args.command in ("lm", "all"):
            args.lm_config = lm_config(args)
        elif args.command == "sample":
            LMRunConfig(seed=args.seed)
        elif args.command == "lstm":
            args.lstm_config = lstm_config(args)
    except utils.ConfigError as err:
        flag = (_lstm_flag_of if args.command == "lstm" else _flag_of)(err.field)
        fail(f"{flag}: must be {err.expected}, got {str(err.value)!r}")
    if args.command in ("lm", "all"):
        try:  # the preset's device too, as this process under torchrun would take it
            utils.get_device(args.lm_config.device)
        except ValueError as err:
            fail(f"--device: {err}")
        if utils.process_ranks().world > 1 and not args.lm_config.fast:
            fail(
                f"the {args.lm_config.name} config trains in one process (the course's DataLoader "
                f"pipeline); run it without torchrun"
            )
        if args.command == "lm" and args.resume and not lm_state(args).is_file():
            fail(
                f"--resume: nothing to resume, {lm_state(args)} does not exist; "
                f"run without --resume"
            )
    for dest in command.writes:
        problem = _unwritable(getattr(args, dest))
        if problem:
            flag = "--" + dest.replace("_", "-")
            fail(f"{flag} {getattr(args, dest)}: {problem}; pass a folder you can write to")
    args.debug = args.debug or os.environ.get(DEBUG_ENV, "") not in ("", "0")
    args.argv = list(sys.argv[1:] if argv is None else argv)
    return args


def _unwritable(folder: Path) -> Optional[str]:
    """Why nothing can be written into `folder` (made if missing), or None: a file of that name, a
    read-only place, a missing parent that cannot be made. Checked by writing, since permission bits
    do not bind root."""
    if folder.exists() and not folder.is_dir():
        return "it is a file, not a folder"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        return f"cannot write there ({err.strerror or type(err).__name__})"
    return None


# Faults a user can cause and mend: one line on stderr and exit code 2 (a traceback only with
# --debug).
EXPECTED_FAULTS = (
    datafiles.DataNotFoundError,
    datafiles.DataFileError,
    glove.EmbeddingsFormatError,
    utils.TrainingDiverged,
    mlp_lm.CheckpointError,
    reference_run.NothingToCompare,
    utils.DiskFullError,
    download.FetchError,
)


def _interrupted(args) -> str:
    """What an interrupted command kept, and how to go on."""
    again = " ".join(["python main.py", *(a for a in args.argv if a != "--resume"), "--resume"])
    if args.command == "lm" or (args.command == "all" and lm_state(args).is_file()):
        state = lm_state(args)
        if not state.is_file():
            return "stopped before the first epoch ended; nothing was kept"
        return (
            f"the best checkpoint so far is {lm_checkpoint(args)} and the state after the last "
            "finished epoch "
            f"is {state}; `{again.strip()}` goes on from there"
        )
    if args.command in ("mlp", "all"):
        return (
            f"the sweep runs that finished are kept in {args.out_dir}/<sweep>.partial.json; "
            f"`{again.strip()}` runs only the others"
        )
    if args.command == "lstm":
        return (
            f"the best checkpoint so far (if dev was scored) is {args.lstm_config.save_path}; "
            "no JSON was written"
        )
    if args.command == "data":
        return "the downloads so far are kept; `python main.py data` again continues them"
    return "nothing was written"


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    signal.signal(
        signal.SIGINT, signal.default_int_handler
    )  # from here on Ctrl-C is a KeyboardInterrupt
    terminated = []  # SIGTERM (schedulers, `timeout`) is handled as Ctrl-C is, with exit code 143

    def on_sigterm(signum, frame):  # in a process forked from this one too, as Ctrl-C would be
        terminated.append(signum)
        raise KeyboardInterrupt

    previous_sigterm = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        args.func(args)
    except KeyboardInterrupt:
        if args.debug:
            raise
        what = "terminated (SIGTERM)" if terminated else "interrupted"
        print(f"{what}: {_interrupted(args)}", file=sys.stderr)
        return 143 if terminated else 130
    except EXPECTED_FAULTS as err:
        if args.debug:
            raise
        print(f"error: {err}", file=sys.stderr)
        return 2
    finally:  # a caller of main() (a test) gets its own handler back
        signal.signal(signal.SIGTERM, previous_sigterm)
    return 0


if __name__ == "__main__":
    sys.exit(main())
