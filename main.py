"""Homework 3: `python main.py` runs every experiment and writes plots and JSON in plots/.

    python main.py               # everything: written checks, MLP sweeps, the language model
    python main.py mlp           # the six sweeps of 6.1 (or: --sweeps NAME ...)
    python main.py lm            # train and score the fixed-window language model (mlp_lm.py)
    python main.py sample        # sample from a saved language-model checkpoint
    python main.py cache         # score a checkpoint with a continuous cache (Grave et al. 2017)
    python main.py dynamic       # ... with dynamic evaluation (Krause et al. 2018), and the cache
    python main.py lstm          # a small LSTM language model, a wall-clock budget (nplm/lstm.py)
    python main.py written       # check every written answer (sections 1-5), draw Figures 1-2
    python main.py sentiment     # beyond the handout: bags of n-grams, NB weighting (IMDB)
    python main.py ... --quick   # the same on small slices, in seconds (into runs/quick)

The sweeps are data (`SWEEPS`): each is a list of configs and labels handed to `mlp.run_sweep`,
which runs them over the seeds, plots the curves and writes a JSON of every number.
`explore_mlp_structures`, `explore_mlp_activations` and `explore_mlp_learning_rates` keep the course
skeleton's signatures. The language model's commands (lm, sample, cache, dynamic, replot) are
nplm/run.py's.

The command line lives in cli/: every flag declared once (cli/flags.py), the command table
(cli/commands.py), and `parse_args` (cli/parse.py), which checks every value before any data is
read or file written and builds the configs once. `RUNS` below maps each command to its function.
"""

from __future__ import annotations

# Ctrl-C while the libraries below load: one line, not an import traceback
if __name__ == "__main__":
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

import dataclasses
import sys
import time
from pathlib import Path
from typing import List, Optional, Sequence


from common import download
from common import glove
from common import reference as reference_run
import mlp
from nplm.lstm import cmd_lstm
from nplm.run import (
    cmd_cache,
    cmd_dynamic,
    cmd_lm,
    cmd_replot,
    cmd_sample,
)
from mlp import ACTIVATION_NAMES, MLPConfig, RawSplit, load_data_mlp
from written import answers, figures
from cli.faults import run_guarded
from cli.flags import DEFAULT_OUT_DIR, QUICK_OUT_DIR  # noqa: F401 (tests read main.QUICK_OUT_DIR)
from cli.parse import parse_args

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


# the function that runs each command of cli/commands.py's table
RUNS = {
    "all": cmd_all,
    "mlp": cmd_mlp,
    "lm": cmd_lm,
    "sample": cmd_sample,
    "cache": cmd_cache,
    "dynamic": cmd_dynamic,
    "written": cmd_written,
    "replot": cmd_replot_all,
    "sentiment": cmd_sentiment,
    "lstm": cmd_lstm,
    "data": download.cmd_data,
    "compare": cmd_compare,
}


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    return run_guarded(RUNS[args.command], args)


if __name__ == "__main__":
    sys.exit(main())
