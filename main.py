"""Homework 3: `python main.py` runs every experiment and writes plots and JSON in plots/.

    python main.py               # everything: written checks, MLP sweeps, the language model
    python main.py mlp           # the six sweeps of 6.1 (or: --sweeps NAME ...)
    python main.py lm            # train and score the fixed-window language model (mlp_lm.py)
    python main.py sample        # sample from a saved language-model checkpoint
    python main.py cache         # score a checkpoint with a continuous cache (Grave et al. 2017)
    python main.py dynamic       # ... with dynamic evaluation (Krause et al. 2018), and the cache
    python main.py lstm          # a small LSTM language model, a wall-clock budget (lm/lstm.py)
    python main.py written       # check every written answer (sections 1-5), draw Figures 1-2
    python main.py sentiment     # beyond the handout: bags of n-grams, NB weighting (IMDB)
    python main.py replot        # redraw the plots of OUT_DIR from their JSON
    python main.py compare       # the run in OUT_DIR beside the committed one (reference/)
    python main.py data          # fetch the data sets that are missing, checked
    python main.py ... --quick   # the same on small slices, in seconds (into runs/quick)

The sweeps are data (sweeps/definitions.py's `SWEEPS`): each is a `Sweep`, a list of configs and
labels, run by one `explore_*` function per sweep, as in the course's main.py:
`sweeps.run.run_sweep` runs it over the seeds and writes a JSON of every number, then `plot_sweep`
draws its plots with mlp.py's `visualize_epochs` (one train/dev loss plot per configuration of the
handout's three sweeps) and `visualize_configs` (dev accuracy and loss across configurations).
`explore_mlp_structures`, `explore_mlp_activations` and `explore_mlp_learning_rates` keep the
course skeleton's signatures. The language model's commands (lm, sample, cache, dynamic, replot)
are lm/run.py's.

The command line lives in cli/: the flags (cli/flags.py: the run's own, and one per config
setting that names a command, common/settings.py), the command table (cli/commands.py), and
`parse_args` (cli/parse.py), which checks every value before any data is read or file written and
builds the configs once. `RUNS` below maps each command to its function.
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

import functools
import sys
import time
from pathlib import Path
from typing import List, Optional, Sequence


from common import download
from common import featurize
from common import glove
from common import reference as reference_run
import mlp
import utils
from lm.lstm import cmd_lstm
from lm.run import (
    cmd_cache,
    cmd_dynamic,
    cmd_lm,
    cmd_replot,
    cmd_sample,
)
from mlp import RawSplit, load_data_mlp
from sweeps import probe
from sweeps.definitions import SWEEPS, SWEEPS_BY_NAME
from sweeps.run import Sweep, SweepRun, run_sweep, safe_name
from written import answers, figures
from cli import parts
from cli.commands import fetch_first
from cli.faults import run_guarded
from cli.flags import DEFAULT_OUT_DIR, QUICK_OUT_DIR  # noqa: F401 (tests read main.QUICK_OUT_DIR)
from cli.parse import parse_args

REFERENCE_DIR = Path(__file__).resolve().parent / "reference"  # the committed run


# --------------------------------------------------------------------------- plots
def config_title(label: str, config) -> str:
    """'no hidden layer, lr 0.025' or '512 -> 512, lr 0.01, Sigmoid': what a per-config plot shows.
    The learning rate is added unless the label states it (`mlp.config_legend`), the activation
    unless the label names it or there is no hidden layer (nothing applies it then)."""
    title = mlp.config_legend(label, config)
    activation = str(config["activation"])
    return f"{title}, {activation}" if config["hidden_dims"] and activation not in label else title


def visualize_sweep_epochs(
    runs: Sequence[dict], out_dir: Path, prefix: str, seed_note: str = ""
) -> List[Path]:
    """One train/dev loss plot per run of a sweep (`mlp.visualize_epochs`), all on one y-scale so
    that the configs can be compared plot against plot; returns the paths,
    `out_dir/{prefix}_{label}_loss.png`."""
    curves = {
        f"{i}{key}": run[key] for i, run in enumerate(runs) for key in ("train_loss", "dev_loss")
    }
    ylim = utils.curve_limits(curves)
    return [
        mlp.visualize_epochs(
            run["train_loss"],
            run["dev_loss"],
            Path(out_dir) / f"{prefix}_{safe_name(run['label'])}_loss.png",
            title=f"{config_title(run['label'], run['config'])}: train and dev loss{seed_note}",
            ylim=ylim,
        )
        for run in runs
    ]


def plot_sweep(history: dict, out_dir, epoch_plot_prefix: Optional[str] = None) -> List[Path]:
    """A sweep's plots, as the course's main.py draws them, from its history (`run_sweep`'s dict, or
    its JSON read back): with `epoch_plot_prefix` each config's train and dev loss
    (`visualize_sweep_epochs`), then dev accuracy and loss across configs
    (`mlp.visualize_configs`), `out_dir/all_{name}_{acc,loss}.png`. `python main.py replot` redraws
    a committed sweep this way, without training."""
    out_dir, name, runs, seeds = Path(out_dir), history["sweep"], history["runs"], history["seeds"]
    seed_note = (
        f" (mean and range over {len(seeds)} seeds)" if len(seeds) > 1 else f" (seed {seeds[0]})"
    )
    drawn = []
    if epoch_plot_prefix:
        drawn += visualize_sweep_epochs(runs, out_dir, epoch_plot_prefix, seed_note)
    for key, metric in (("acc", "Dev accuracy"), ("loss", "Dev loss")):
        drawn.append(
            mlp.visualize_configs(
                [r[f"dev_{key}"] for r in runs],
                [r["label"] for r in runs],
                metric,
                out_dir / f"all_{name}_{key}.png",
                title=f"{name.replace('_', ' ')}: {metric.lower()}{seed_note}",
                configs=[r["config"] for r in runs],
            )
        )
    return drawn


# --------------------------------------------------------------------------- the MLP sweeps
def explore(sweep: Sweep, splits: Sequence, embeddings, run: SweepRun) -> dict:
    """Featurize the (dev, train, test) splits (unless given TensorDatasets), run the sweep, which
    saves its JSON, and draw its plots (`plot_sweep`); a probe sweep saves its JSON only."""
    datasets = mlp.as_tensor_datasets(splits, embeddings)
    counts = f"{len(sweep.configs)} configs x {len(run.seeds)} seed(s)"
    if sweep.probe:
        print(f"---------- probe {sweep.name}: {counts}")
        return probe.probe_sweep(sweep, datasets, run, embeddings)
    print(f"---------- sweep {sweep.name}: {counts} ----------")
    history = run_sweep(sweep, datasets, run, embeddings)
    plot_sweep(history, run.out_dir, sweep.epoch_plot_prefix)
    return history


# The course's explore_* functions: the splits may be raw dicts or TensorDatasets; `settings` are
# SweepRun's fields (seeds, out_dir, ckpt_dir, device, workers, resume).
def explore_mlp_structures(dev_d, train_d, test_d, embeddings, *, num_epochs=20, **settings):
    """6.1.3: hidden layers [], [512], [512, 512], [512, 512, 512]."""
    sweep = SWEEPS["structures"](num_epochs)
    return explore(sweep, (dev_d, train_d, test_d), embeddings, SweepRun(**settings))


def explore_mlp_activations(dev_d, train_d, test_d, embeddings, *, num_epochs=20, **settings):
    """6.1.4: Sigmoid, Tanh, ReLU, GeLU and LeakyReLU."""
    sweep = SWEEPS["activations"](num_epochs)
    return explore(sweep, (dev_d, train_d, test_d), embeddings, SweepRun(**settings))


def explore_mlp_learning_rates(dev_d, train_d, test_d, embeddings, *, num_epochs=20, **settings):
    """6.1.5: learning rates 1e-4 ... 1e-1."""
    sweep = SWEEPS["learning_rates"](num_epochs)
    return explore(sweep, (dev_d, train_d, test_d), embeddings, SweepRun(**settings))


def explore_mlp_depth_vs_lr(dev_d, train_d, test_d, embeddings, *, num_epochs=20, **settings):
    """6.1.3's control: one, two and three hidden layers at lr 0.02 and 0.001."""
    sweep = SWEEPS["depth_vs_lr"](num_epochs)
    return explore(sweep, (dev_d, train_d, test_d), embeddings, SweepRun(**settings))


def explore_mlp_tanh_lr(dev_d, train_d, test_d, embeddings, *, num_epochs=20, **settings):
    """6.1.4's control: Tanh at learning rates 0.001 ... 0.01."""
    sweep = SWEEPS["tanh_lr"](num_epochs)
    return explore(sweep, (dev_d, train_d, test_d), embeddings, SweepRun(**settings))


def explore_mlp_depth_probe(dev_d, train_d, test_d, embeddings, *, num_epochs=20, **settings):
    """6.1.3's "why": gradient norms and saturated units of sigmoid nets of one to three layers."""
    sweep = SWEEPS["depth_probe"](num_epochs)
    return explore(sweep, (dev_d, train_d, test_d), embeddings, SweepRun(**settings))


EXPLORERS = {
    "structures": explore_mlp_structures,
    "activations": explore_mlp_activations,
    "learning_rates": explore_mlp_learning_rates,
    "depth_vs_lr": explore_mlp_depth_vs_lr,
    "tanh_lr": explore_mlp_tanh_lr,
    "depth_probe": explore_mlp_depth_probe,
}


def _quick_slice(split: RawSplit, n: int) -> RawSplit:
    return {k: v[:n] for k, v in split.items()}


def mlp_inputs(args) -> tuple:
    """Load IMDB and GloVe once, featurize once: ((dev, train, test) TensorDatasets, vectors, {}:
    the runs the sweeps make)."""
    started = time.perf_counter()
    dev_d, train_d, test_d = load_data_mlp(data_dir=args.data_dir)
    if args.quick:
        dev_d, train_d, test_d = (
            _quick_slice(s, n) for s, n in zip((dev_d, train_d, test_d), (300, 1500, 300))
        )
    embeddings = glove.load_glove(data_dir=args.data_dir, name=args.embeddings)
    t0 = time.perf_counter()
    splits = [dev_d, train_d, test_d]
    datasets = featurize.cached_datasets(
        splits, embeddings, lambda: mlp.create_tensor_datasets(splits, embeddings)
    )
    print(
        f"features of {sum(len(d['text']) for d in splits)} reviews in "
        f"{time.perf_counter() - t0:.1f} s (featurized, or read from the checked cache; data "
        f"loading took {t0 - started:.1f} s)"
    )
    # and the runs made so far by the sweeps on these inputs (each run trains once)
    return datasets, embeddings, {}


def run_one_sweep(args, name: str, inputs: tuple) -> dict:
    """The sweep `name` on `inputs` (`mlp_inputs`'), its files where cli/parts.py says."""
    (datasets, embeddings, made), (out_dir, ckpt_dir) = inputs, parts.sweep_dirs(args)
    settings = dict(out_dir=out_dir, ckpt_dir=ckpt_dir, device=args.device, resume=args.resume)
    settings["made"] = made
    settings.update(num_epochs=parts.sweep_epochs(args), seeds=parts.sweep_seeds(args))
    history = EXPLORERS[name](*datasets, embeddings, **settings)
    print(f"sweep {name} took {history['wall_seconds']:.1f} s")
    return history


def cmd_mlp(args) -> dict:
    """Load IMDB and GloVe once, featurize once, run the chosen sweeps (with --resume, not those
    that finished before: their JSON is kept); returns {sweep: history} of those run."""
    started = time.perf_counter()
    kept = [n for n in args.sweeps if args.resume and parts.finished(args, n)]
    for name in kept:
        print(f"sweep {name} finished before: kept in {parts.results_of(args, name)}")
    todo = [n for n in args.sweeps if n not in kept]
    inputs = mlp_inputs(args) if todo else None
    results = {name: run_one_sweep(args, name, inputs) for name in todo}
    print(
        f"MLP sweeps done in {time.perf_counter() - started:.1f} s (data loading included); "
        f"plots and JSON in {parts.sweep_dirs(args)[0]}/"
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
    IMDB splits, each row over --seeds seeds; plots/sentiment_ngrams.json and _dev_acc.png. Then
    what the course's average is made of, with its control (sentiment/average.py):
    plots/sentiment_average.json. Not part of `all` (it takes minutes)."""
    from sentiment import average as sentiment_average
    from sentiment import ngrams as sentiment_ngrams

    splits, glove = sentiment_ngrams.load_inputs(args.data_dir, quick=args.quick)
    rows = sentiment_ngrams.ROWS
    if args.quick:
        rows = sentiment_ngrams.quick_rows(rows, glove.vector_size)
    seeds = list(range(args.seed, args.seed + (1 if args.quick else args.seeds)))
    run = sentiment_ngrams.TableRun(
        seeds=seeds,
        out_dir=args.out_dir,
        course_dir=Path(__file__).resolve().parent / DEFAULT_OUT_DIR,
        command="python main.py " + " ".join(args.argv),
    )
    history = sentiment_ngrams.run_sentiment(splits, glove, rows=rows, run=run)
    sentiment_average.measure_average(
        splits,
        glove,
        seeds,
        args.out_dir,
        num_epochs=parts.QUICK_SWEEP_EPOCHS if args.quick else None,
        command=run.command,
    )
    return history


def cmd_compare(args) -> None:
    """Print the run in --out-dir beside the committed run (reference/) and what reproduced."""
    print(reference_run.report(args.out_dir, REFERENCE_DIR))


def cmd_replot_all(args) -> list:
    """Redraw every plot of OUT_DIR from its JSON, without training: the language model's
    (lm/run.py's replot), the MLP sweeps' (`plot_sweep`, from OUT_DIR/mlp_*.json) and the
    sentiment table's."""
    from sentiment import ngrams as sentiment_ngrams

    out_dir = Path(args.out_dir)
    table = out_dir / "sentiment_ngrams.json"
    # every file read through before the first plot is drawn: a damaged one stops it at once
    for path in [*out_dir.rglob("mlp_lm*.json"), *out_dir.glob("mlp_*.json"), table]:
        if path.is_file():
            reference_run.read_run_json(path)
    drawn = cmd_replot(args)
    prefixes = {sweep().name: sweep().epoch_plot_prefix for sweep in SWEEPS.values()}
    for path in sorted(out_dir.glob("mlp_*.json")):
        history = reference_run.read_run_json(path)
        try:
            name = history.get("sweep")
            if name in prefixes and not SWEEPS_BY_NAME[name]().probe:
                drawn += plot_sweep(history, path.parent, prefixes[name])
        except reference_run.SHAPE_ERRORS as err:
            raise reference_run.shape_fault(path, err) from err
    if table.is_file():
        rows = reference_run.read_run_json(table)
        try:
            drawn.append(
                sentiment_ngrams.plot_rows(rows, table.with_name("sentiment_ngrams_dev_acc.png"))
            )
        except reference_run.SHAPE_ERRORS as err:
            raise reference_run.shape_fault(table, err) from err
    print(f"redrew {len(drawn)} plots in all")
    return drawn


def cmd_all(args) -> list:
    """The written checks, each sweep, the language model: cli/parts.py's parts, under one status
    line; with --resume the parts that finished before are kept. The first sweep loads the data."""
    inputs = functools.cache(lambda: mlp_inputs(args))
    runs = {"written": lambda: cmd_written(args), "lm": lambda: cmd_lm(args)}
    for name in args.sweeps:
        runs[name] = functools.partial(lambda n: run_one_sweep(args, n, inputs()), name)
    return parts.run_all(args, runs, REFERENCE_DIR)


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
    return run_guarded(RUNS[args.command], args, first=fetch_first)


if __name__ == "__main__":
    sys.exit(main())
