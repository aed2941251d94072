"""Homework 3 entry point: `python main.py` runs every experiment and saves plots and results in plots/.

    python main.py                # everything: the three MLP sweeps, the language model, the figures
    python main.py mlp            # the three sweeps of section 6.1 (or: --sweeps structures activations)
    python main.py lm             # train and score the fixed-window language model (mlp_lm.py)
    python main.py sample         # sample from a saved language-model checkpoint
    python main.py cache          # score a saved checkpoint with a continuous cache (Grave et al. 2017)
    python main.py written        # check every written answer (sections 1-5) and draw Figures 1 and 2
    python main.py ... --quick    # the same on small slices, in seconds (results go to runs/quick)

The sweeps are data (`SWEEPS`): each is a list of configs and labels handed to `mlp.run_sweep`, which runs
them over the seeds, plots the curves and writes a JSON of every number. `explore_mlp_structures`,
`explore_mlp_activations` and `explore_mlp_learning_rates` keep the course skeleton's signatures.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path
from typing import List, Optional, Sequence, Union

from torch.utils.data import TensorDataset

import mlp
import utils
from mlp import ACTIVATION_NAMES, MLPConfig, RawSplit, load_data_mlp
DEFAULT_OUT_DIR = Path("plots")
QUICK_OUT_DIR = Path("runs") / "quick"
LEARNING_RATES = [0.0001, 0.001, 0.005, 0.02, 0.05, 0.1]


@dataclasses.dataclass
class Sweep:
    """One experiment of section 6.1: configs with their plot labels, and what to plot."""

    name: str  # file stem: plots/all_{name}_acc.png, plots/{name}.json
    configs: List[MLPConfig]
    labels: List[str]
    epoch_plot_prefix: Optional[str] = None  # per-config train/dev loss plots, as the course drew for 6.1.3


def structure_sweep(num_epochs: int = 20) -> Sweep:
    """6.1.3: depth, with the course's learning rate for each depth (Sigmoid, batch 64)."""
    dims = [[], [512], [512, 512], [512, 512, 512]]
    lrs = [0.025, 0.02, 0.01, 0.001]
    return Sweep("mlp_structures",
                 [MLPConfig(hidden_dims=d, lr=lr, activation="Sigmoid", batch_size=64, num_epochs=num_epochs)
                  for d, lr in zip(dims, lrs)],
                 [" -> ".join(map(str, d)) or "no hidden layer" for d in dims], epoch_plot_prefix="mlp_structure")


def activation_sweep(num_epochs: int = 20) -> Sweep:
    """6.1.4: activation functions, one hidden layer of 512, lr 0.02, batch 128."""
    return Sweep("mlp_activations",
                 [MLPConfig(hidden_dims=[512], lr=0.02, activation=a, batch_size=128, num_epochs=num_epochs)
                  for a in ACTIVATION_NAMES], list(ACTIVATION_NAMES))


def learning_rate_sweep(num_epochs: int = 20) -> Sweep:
    """6.1.5: learning rates from 1e-4 to 1e-1, one hidden layer of 512, Sigmoid, batch 64."""
    return Sweep("mlp_learning_rates",
                 [MLPConfig(hidden_dims=[512], lr=lr, activation="Sigmoid", batch_size=64, num_epochs=num_epochs)
                  for lr in LEARNING_RATES], [f"lr={lr:g}" for lr in LEARNING_RATES])


SWEEPS = {"structures": structure_sweep, "activations": activation_sweep, "learning_rates": learning_rate_sweep}


def _as_tensor_datasets(splits: Sequence[Union[RawSplit, TensorDataset]], embeddings) -> tuple:
    """TensorDatasets as given; raw splits featurized together in one pass."""
    raw = [s for s in splits if not isinstance(s, TensorDataset)]
    featurized = iter(mlp.create_tensor_datasets(raw, embeddings) if raw else [])
    return tuple(s if isinstance(s, TensorDataset) else next(featurized) for s in splits)


def _explore(sweep: Sweep, dev_d, train_d, test_d, embeddings, seeds: Sequence[int], out_dir, ckpt_dir) -> dict:
    """Featurize (unless given TensorDatasets), then run the sweep and save its plots and JSON."""
    datasets = _as_tensor_datasets((dev_d, train_d, test_d), embeddings)
    print(f"---------- sweep {sweep.name}: {len(sweep.configs)} configs x {len(seeds)} seed(s) ----------")
    return mlp.run_sweep(sweep.name, sweep.configs, sweep.labels, datasets, seeds=seeds, out_dir=out_dir,
                         epoch_plot_prefix=sweep.epoch_plot_prefix, ckpt_dir=ckpt_dir, embeddings=embeddings)


def explore_mlp_structures(dev_d, train_d, test_d, embeddings, *, seeds: Sequence[int] = (0,),
                           num_epochs: int = 20, out_dir=DEFAULT_OUT_DIR, ckpt_dir=None) -> dict:
    """6.1.3: hidden layers [], [512], [512, 512], [512, 512, 512]. Splits may be raw dicts or TensorDatasets."""
    return _explore(structure_sweep(num_epochs), dev_d, train_d, test_d, embeddings, seeds, out_dir, ckpt_dir)


def explore_mlp_activations(dev_d, train_d, test_d, embeddings, *, seeds: Sequence[int] = (0,),
                            num_epochs: int = 20, out_dir=DEFAULT_OUT_DIR, ckpt_dir=None) -> dict:
    """6.1.4: Sigmoid, Tanh, ReLU, GeLU and LeakyReLU. Splits may be raw dicts or TensorDatasets."""
    return _explore(activation_sweep(num_epochs), dev_d, train_d, test_d, embeddings, seeds, out_dir, ckpt_dir)


def explore_mlp_learning_rates(dev_d, train_d, test_d, embeddings, *, seeds: Sequence[int] = (0,),
                               num_epochs: int = 20, out_dir=DEFAULT_OUT_DIR, ckpt_dir=None) -> dict:
    """6.1.5: learning rates 1e-4 ... 1e-1. Splits may be raw dicts or TensorDatasets."""
    return _explore(learning_rate_sweep(num_epochs), dev_d, train_d, test_d, embeddings, seeds, out_dir,
                    ckpt_dir)


EXPLORERS = {"structures": explore_mlp_structures, "activations": explore_mlp_activations,
             "learning_rates": explore_mlp_learning_rates}


# --------------------------------------------------------------------------- sub-commands
def _quick_slice(split: RawSplit, n: int) -> RawSplit:
    return {k: v[:n] for k, v in split.items()}


def run_mlp_sweeps(args) -> dict:
    """Load IMDB and GloVe once, featurize once, run the chosen sweeps; returns {sweep: history}."""
    started = time.perf_counter()
    dev_d, train_d, test_d = load_data_mlp(data_dir=args.data_dir)
    if args.quick:
        dev_d, train_d, test_d = (_quick_slice(s, n) for s, n in zip((dev_d, train_d, test_d), (300, 1500, 300)))
    embeddings = utils.load_glove(data_dir=args.data_dir)
    t0 = time.perf_counter()
    datasets = mlp.create_tensor_datasets([dev_d, train_d, test_d], embeddings)
    print(f"featurized {sum(len(d['text']) for d in (dev_d, train_d, test_d))} reviews in "
          f"{time.perf_counter() - t0:.1f} s (data loading took {t0 - started:.1f} s)")
    seeds = list(range(args.seed, args.seed + args.seeds))
    num_epochs = 3 if args.quick else args.epochs
    results = {}
    for name in args.sweeps:
        results[name] = EXPLORERS[name](*datasets, embeddings, seeds=seeds, num_epochs=num_epochs,
                                        out_dir=args.out_dir, ckpt_dir=args.ckpt_dir)
        print(f"sweep {name} took {results[name]['wall_seconds']:.1f} s")
    print(f"MLP sweeps done in {time.perf_counter() - started:.1f} s (data loading included); "
          f"plots and JSON in {args.out_dir}/")
    return results


def cmd_mlp(args) -> None:
    run_mlp_sweeps(args)


def cmd_lm(args) -> None:
    import mlp_lm

    mlp_lm.main_lm(args)


def cmd_sample(args) -> None:
    import mlp_lm

    mlp_lm.main_sample(args)


def cmd_cache(args) -> None:
    import mlp_lm

    mlp_lm.main_cache(args)


def cmd_written(args) -> None:
    import written

    written.main(args)


COMMON_FLAGS = ("data_dir", "out_dir", "ckpt_dir", "quick", "seed", "device")


def cmd_all(args) -> None:
    cmd_written(args)
    cmd_mlp(args)
    # The language model gets its own defaults (its --epochs is not the sweeps' --epochs).
    lm_args = build_parser().parse_args(["lm"])
    for flag in COMMON_FLAGS:
        setattr(lm_args, flag, getattr(args, flag))
    cmd_lm(lm_args)


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", type=Path, default=None,
                        help=f"folder with imdb/, glove/, wikitext-2/ (default: ${utils.DATA_DIR_ENV} "
                             f"or ../shared/data)")
    common.add_argument("--out-dir", type=Path, default=None,
                        help=f"where plots and JSON go (default: {DEFAULT_OUT_DIR}/, or {QUICK_OUT_DIR}/ with --quick)")
    common.add_argument("--ckpt-dir", type=Path, default=None,
                        help="where checkpoints go (default: checkpoints/, or runs/quick/checkpoints with --quick)")
    common.add_argument("--quick", action="store_true",
                        help="small slices and few epochs: a smoke run in under a minute")
    common.add_argument("--seed", type=int, default=0, help="first seed (default 0)")
    common.add_argument("--device", default=None, help="torch device (default: cuda if available, else cpu)")

    mlp_flags = argparse.ArgumentParser(add_help=False)
    mlp_flags.add_argument("--seeds", type=int, default=3,
                           help="seeds per config; plots show the mean and the band across seeds (default 3)")
    mlp_flags.add_argument("--epochs", type=int, default=20, help="epochs per run (default 20, as the course)")
    mlp_flags.add_argument("--sweeps", nargs="+", choices=list(SWEEPS), default=list(SWEEPS),
                           help="which sweeps of 6.1 to run (default: all three)")

    parser = argparse.ArgumentParser(
        prog="main.py", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Run `python main.py COMMAND --help` for the flags of one command.",
        parents=[common, mlp_flags])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands = {
        "all": ("run everything (the default): written checks and figures, the MLP sweeps, the language model",
                cmd_all, [common, mlp_flags]),
        "mlp": ("the three MLP sweeps of section 6.1 (structures, activations, learning rates)", cmd_mlp,
                [common, mlp_flags]),
        "lm": ("train and score the fixed-window neural language model on WikiText-2", cmd_lm, [common]),
        "sample": ("generate text from a saved language-model checkpoint", cmd_sample, [common]),
        "cache": ("score a saved language-model checkpoint with a continuous cache (dev-tuned, then test)",
                  cmd_cache, [common]),
        "written": ("check every written answer (sections 1-5) and draw Figures 1 and 2", cmd_written, [common]),
    }
    for name, (help_text, func, parents) in commands.items():
        p = sub.add_parser(name, help=help_text, description=help_text, parents=parents)
        p.set_defaults(func=func)
        if name == "lm":
            _add_module_arguments("mlp_lm", "add_lm_arguments", p)
        if name == "sample":
            _add_module_arguments("mlp_lm", "add_sample_arguments", p)
        if name == "cache":
            _add_module_arguments("mlp_lm", "add_cache_arguments", p)
    parser.set_defaults(func=cmd_all)
    return parser


def _add_module_arguments(module: str, hook: str, parser: argparse.ArgumentParser) -> None:
    import importlib

    add = getattr(importlib.import_module(module), hook, None)
    if add is not None:
        add(parser)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "seeds", 1) < 1 or getattr(args, "epochs", None) is not None and args.epochs < 1:
        parser.error("--seeds and --epochs must be at least 1")
    if getattr(args, "top_p", None) is not None and not 0.0 <= args.top_p <= 1.0:
        parser.error(f"--top-p must be in [0, 1] (0 is greedy), got {args.top_p}")
    if args.out_dir is None:
        args.out_dir = QUICK_OUT_DIR if args.quick else DEFAULT_OUT_DIR
    if args.ckpt_dir is None:
        args.ckpt_dir = QUICK_OUT_DIR / "checkpoints" if args.quick else Path("checkpoints")
    if args.quick and hasattr(args, "seeds"):
        args.seeds = 1
    try:
        args.func(args)
    except utils.DataNotFoundError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
