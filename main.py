"""Homework 3 entry point: `python main.py` runs every experiment and saves plots and results in plots/.

    python main.py                # everything: the three MLP sweeps, the language model, the figures
    python main.py mlp            # the three sweeps of section 6.1 (or: --sweeps structures activations)
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

Every flag is declared here and checked by `parse_args`, before any data is read: flags may come before or
after the command, and the language model's config (`mlp_lm.LMConfig`) is built once, from its preset and the
flags given, then read as plain attributes. One rule (`lm_stem`) names a language-model run's files.
"""
from __future__ import annotations

if __name__ == "__main__":  # Ctrl-C while the libraries below load: one line, not an import traceback
    import signal as _signal
    import sys as _sys

    _signal.signal(_signal.SIGINT, lambda *_: (print("interrupted: nothing was written", file=_sys.stderr),
                                               _sys.exit(130)))

import argparse
import contextlib
import dataclasses
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import List, Optional, Sequence

import torch
import torch.nn as nn

import mlp
import mlp_lm
import utils
from lm_cache import score_with_cache
from lm_data import WindowBatches, encode_stream
from lm_dynamic import DYNAMIC_SEGMENT, score_dynamic
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


def _explore(sweep: Sweep, dev_d, train_d, test_d, embeddings, seeds: Sequence[int], out_dir, ckpt_dir,
             resume: bool, device: Optional[str]) -> dict:
    """Featurize (unless given TensorDatasets), then run the sweep and save its plots and JSON."""
    datasets = mlp.as_tensor_datasets((dev_d, train_d, test_d), embeddings)
    if device:
        sweep.configs = [dataclasses.replace(c, device=device) for c in sweep.configs]
    print(f"---------- sweep {sweep.name}: {len(sweep.configs)} configs x {len(seeds)} seed(s) ----------")
    return mlp.run_sweep(sweep.name, sweep.configs, sweep.labels, datasets, seeds=seeds, out_dir=out_dir,
                         epoch_plot_prefix=sweep.epoch_plot_prefix, ckpt_dir=ckpt_dir, embeddings=embeddings,
                         resume=resume)


def explore_mlp_structures(dev_d, train_d, test_d, embeddings, *, seeds: Sequence[int] = (0,),
                           num_epochs: int = 20, out_dir=DEFAULT_OUT_DIR, ckpt_dir=None,
                           resume=False, device=None) -> dict:
    """6.1.3: hidden layers [], [512], [512, 512], [512, 512, 512]. Splits may be raw dicts or TensorDatasets."""
    return _explore(structure_sweep(num_epochs), dev_d, train_d, test_d, embeddings, seeds, out_dir, ckpt_dir,
                    resume, device)


def explore_mlp_activations(dev_d, train_d, test_d, embeddings, *, seeds: Sequence[int] = (0,),
                            num_epochs: int = 20, out_dir=DEFAULT_OUT_DIR, ckpt_dir=None,
                            resume=False, device=None) -> dict:
    """6.1.4: Sigmoid, Tanh, ReLU, GeLU and LeakyReLU. Splits may be raw dicts or TensorDatasets."""
    return _explore(activation_sweep(num_epochs), dev_d, train_d, test_d, embeddings, seeds, out_dir, ckpt_dir,
                    resume, device)


def explore_mlp_learning_rates(dev_d, train_d, test_d, embeddings, *, seeds: Sequence[int] = (0,),
                               num_epochs: int = 20, out_dir=DEFAULT_OUT_DIR, ckpt_dir=None,
                               resume=False, device=None) -> dict:
    """6.1.5: learning rates 1e-4 ... 1e-1. Splits may be raw dicts or TensorDatasets."""
    return _explore(learning_rate_sweep(num_epochs), dev_d, train_d, test_d, embeddings, seeds, out_dir,
                    ckpt_dir, resume, device)


EXPLORERS = {"structures": explore_mlp_structures, "activations": explore_mlp_activations,
             "learning_rates": explore_mlp_learning_rates}


# --------------------------------------------------------------------------- the MLP sweeps
def _quick_slice(split: RawSplit, n: int) -> RawSplit:
    return {k: v[:n] for k, v in split.items()}


def cmd_mlp(args) -> dict:
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
    seeds = list(range(args.seed, args.seed + (1 if args.quick else args.seeds)))
    num_epochs = 3 if args.quick else args.epochs
    results = {}
    for name in args.sweeps:
        results[name] = EXPLORERS[name](*datasets, embeddings, seeds=seeds, num_epochs=num_epochs,
                                        out_dir=args.out_dir, ckpt_dir=args.ckpt_dir, resume=args.resume,
                                        device=args.device)
        print(f"sweep {name} took {results[name]['wall_seconds']:.1f} s")
    print(f"MLP sweeps done in {time.perf_counter() - started:.1f} s (data loading included); "
          f"plots and JSON in {args.out_dir}/")
    return results


# --------------------------------------------------------------------------- the language model
def lm_run_name(args) -> str:
    """The run's name: --name, else the preset's ("quick" with --quick)."""
    return getattr(args, "name", None) or ("quick" if args.quick else args.config)


def lm_stem(run_name: str) -> str:
    """The one rule that names a language-model run's files: mlp_lm.pt, .json, _loss.png for the default run,
    mlp_lm_long.* and mlp_lm_quick.* for the others."""
    return "mlp_lm" if run_name == "default" else f"mlp_lm_{run_name}"


def lm_checkpoint(args) -> Path:
    return getattr(args, "checkpoint", None) or args.ckpt_dir / f"{lm_stem(lm_run_name(args))}.pt"


def lm_state(args) -> Path:
    """Where `lm` keeps its training state after every epoch, for --resume."""
    return args.ckpt_dir / f"{lm_stem(lm_run_name(args))}.state.pt"


def lm_config(args):
    """The language model's config, built once from the flags: a preset with the flags that were given."""
    flags = {"num_epochs": "epochs" if args.command == "lm" else None, "output_layer": "output_layer",
             "dropout_p": "dropout", "precision": "precision", "device": "device", "local_window_size": "window",
             "global_window": "global_window", "ema_decay": "ema_decay", "cache_size": "cache_size",
             "tie_embeddings": "tie_embeddings", "embed_dropout_p": "embed_dropout", "input_dropout_p":
             "input_dropout", "weight_decay": "weight_decay", "dynamic_segment": "dynamic_segment",
             "num_threads": "threads"}
    overrides = {field: getattr(args, flag) for field, flag in flags.items()
                 if flag and getattr(args, flag, None) is not None}
    if "tie_embeddings" in overrides:
        overrides["tie_embeddings"] = overrides["tie_embeddings"] == "on"
    preset = "quick" if args.quick else args.config
    return mlp_lm.LMConfig.preset(preset, seed=args.seed, save_path=str(lm_checkpoint(args)), **overrides)


def cmd_lm(args) -> Optional[dict]:
    """Train, keep the best checkpoint, plot loss and perplexity, score the best model on dev and test (and
    with a continuous cache), sample the course's prompt; all numbers go to OUT_DIR/<stem>.json.

    Under torchrun (WORLD_SIZE > 1) the processes train together with DistributedDataParallel (gloo on CPUs,
    NCCL on GPUs), score dev and test together, and rank 0 alone writes and returns the report."""
    config, stem, out_dir = args.lm_config, lm_stem(lm_run_name(args)), args.out_dir
    rank, world, local_rank = utils.distributed_env()
    if world > 1:
        device = utils.get_device(config.device)
        if device.type == "cuda":
            torch.cuda.set_device(local_rank)
        torch.distributed.init_process_group("nccl" if device.type == "cuda" else "gloo")
    utils.keep_freed_memory()
    quiet = open(os.devnull, "w") if rank else None  # one process speaks
    try:
        with utils.torch_threads(config.num_threads), contextlib.redirect_stdout(quiet or sys.stdout):
            report = _train_score_and_report(args, config, stem, out_dir, rank, world)
        if world > 1:  # rank 0 scores (cache, dynamic evaluation) and writes alone: the others wait for it here,
            torch.distributed.barrier()  # so that none tears the process group down under it
        return report
    finally:
        if world > 1:
            torch.distributed.destroy_process_group()
        if quiet:
            quiet.close()


def _train_score_and_report(args, config, stem: str, out_dir: Path, rank: int, world: int) -> Optional[dict]:
    t0 = time.perf_counter()
    eval_bs = config.eval_batch_size or config.batch_size  # the course's config has none of its own
    train_data, dev_data, test_data = mlp_lm.load_data_mlp_lm(args.data_dir, splits=("train", "validation", "test"))
    run = mlp_lm.fit_mlp_lm(config, train_data, dev_data, state_path=lm_state(args),
                            resume=args.resume and lm_state(args).is_file())
    model, tok, h = run.model, run.tokenizer, run.report["history"]
    device = next(model.parameters()).device
    scores = {}  # the best model on the whole dev and test splits (a quick run cuts them as it cut dev)
    for split, data in (("dev", dev_data), ("test", test_data)):
        stream = encode_stream(data, tok, config.max_dev_tokens)
        batches = WindowBatches(stream, model.context_size, tok.pad_token_id, eval_bs,
                                device=device, rank=rank, world=world)
        loss, ppl = mlp_lm.evaluate(model, batches, nn.NLLLoss())
        scores[split] = {"loss": loss, "ppl": ppl, "targets": stream.numel()}
        print(f"best checkpoint: {split} perplexity {ppl:.2f} over {stream.numel():,} targets")
    if rank != 0:  # the cache, the samples and the files are rank 0's
        return None
    plots = plot_lm_history(h, config, out_dir / stem)
    cache = None
    if config.cache_size:
        cache = score_with_cache(model, tok, dev_data, test_data, config.cache_size, config.cache_thetas,
                                 config.cache_lambdas, eval_bs, max_tokens=config.max_dev_tokens)
    dynamic = None
    if config.dynamic_segment:
        dynamic = score_dynamic(model, tok, dev_data, test_data, lrs=config.dynamic_lrs, decays=config.dynamic_decays,
                                segment_len=config.dynamic_segment, tune_tokens=config.dynamic_tune_tokens,
                                cache_size=config.cache_size, thetas=config.cache_thetas,
                                lambdas=config.cache_lambdas, max_tokens=config.max_dev_tokens)
    samples = mlp_lm.sample_prompt(model, tok, seed=config.seed)
    _, meta = mlp_lm.load_checkpoint_meta(config.save_path)  # the checkpoint this JSON describes
    checkpoint = {"path": config.save_path, "epoch": meta["epoch"], "weights_sha256": meta["weights_sha256"]}
    report = {"config": config.to_dict(), **run.report, "checkpoint": checkpoint, "best_checkpoint_scores": scores,
              "cache": cache, "dynamic": dynamic, "samples": samples, "prompt": mlp_lm.COURSE_PROMPT,
              "plots": [str(p) for p in plots],
              "wall_seconds": time.perf_counter() - t0, "torch_threads": torch.get_num_threads(),
              "torch_version": torch.__version__}
    json_path = utils.atomic_write_json(report, out_dir / f"{stem}.json")
    print(f"best dev perplexity {report['best_dev_ppl']:.2f} (epoch {report['best_epoch']}); wall time "
          f"{report['wall_seconds']:.0f} s; wrote {', '.join(map(str, plots))}, {json_path}")
    return report


def plot_lm_history(history: dict, config, stem: Path) -> list:
    """`<stem>_loss.png` and `<stem>_ppl.png`: train and dev per epoch, titled with the preset and the fields
    that differ from it (so the default, long and ablation runs are told apart)."""
    preset = mlp_lm.LMConfig.preset(config.name).to_dict()
    changed = [f"{k}={v}" for k, v in config.to_dict().items()
               if k not in ("save_path", "seed", "name", "device", "num_threads") and preset[k] != v]  # what, not where
    title = f"MLP language model, {config.name} config" + (f" ({', '.join(changed)})" if changed else "")
    return [mlp_lm.visualize_epochs(history[f"train_{key}"], history[f"dev_{key}"], label,
                                    stem.with_name(f"{stem.name}_{key}.png"), title=f"{title}\n{label}")
            for key, label in (("loss", "Loss (NLL per token)"), ("ppl", "Perplexity"))]


def cmd_replot(args) -> list:
    """Redraw the language model's plots from the histories in OUT_DIR/**/mlp_lm*.json (no training)."""
    drawn = []
    for path in sorted(args.out_dir.rglob("mlp_lm*.json")):
        report = json.loads(path.read_text())
        if "history" not in report:  # a cache or benchmark result
            continue
        config = mlp_lm.LMConfig.from_dict(report["config"])
        drawn += plot_lm_history(report["history"], config, path.with_suffix(""))
    print(f"redrew {len(drawn)} plots: {', '.join(map(str, drawn))}")
    return drawn


def _saved_lm_config(path: Path, **overrides):
    """The LMConfig saved beside a checkpoint (checked before any data is read)."""
    _, meta = mlp_lm.load_checkpoint_meta(path)
    return mlp_lm.LMConfig.from_dict(meta["config"], **overrides)


def _device_override(args) -> dict:
    return {"device": args.device} if args.device else {}


def cmd_sample(args) -> dict:
    """Rebuild the saved model, report its dev perplexity if the data is there, print the samples."""
    path = lm_checkpoint(args)
    config = _saved_lm_config(path, save_path=str(path), seed=args.seed, **_device_override(args))
    try:
        (dev_data,) = mlp_lm.load_data_mlp_lm(args.data_dir, splits=("validation",))
    except utils.DataNotFoundError as err:
        print(f"note: no dev perplexity ({err})", file=sys.stderr)
        dev_data = None
    top_ps = (None, 0.3, 1.0) if args.top_p is None else (args.top_p,)
    utils.keep_freed_memory()
    with utils.torch_threads(config.num_threads):
        return mlp_lm.sample_from_mlp_lm(config, dev_data, prompt=args.prompt, top_ps=top_ps, max_len=args.max_len)


def _score_saved(args, kind: str, score) -> dict:
    """Load the checkpoint of `args`, score it on dev and test with `score(model, tokenizer, dev, test,
    max_tokens, config)`, and write OUT_DIR/<checkpoint name>_<kind>.json with the command that made it."""
    path = lm_checkpoint(args)
    config = _saved_lm_config(path, save_path=str(path), **_device_override(args))
    model, tokenizer, meta = mlp_lm.load_checkpoint(path, config)
    model.to(utils.get_device(config.device))
    dev_data, test_data = mlp_lm.load_data_mlp_lm(args.data_dir, splits=("validation", "test"))
    utils.keep_freed_memory()
    with utils.torch_threads(config.num_threads):
        result = score(model, tokenizer, dev_data, test_data, config.max_dev_tokens if args.quick else None, config)
    report = {"command": "python main.py " + " ".join(args.argv), "checkpoint": str(path),
              "checkpoint_epoch": meta.get("epoch"), "checkpoint_dev_ppl": meta.get("dev_ppl"), **result,
              "torch_threads": torch.get_num_threads(), "torch_version": torch.__version__}
    out = utils.atomic_write_json(report, args.out_dir / f"{path.stem}_{kind}.json")
    print(f"wrote {out}")
    return report


def cmd_cache(args) -> dict:
    """Score a saved checkpoint with a continuous cache: theta and lambda chosen on dev, then test once;
    writes OUT_DIR/<checkpoint name>_cache.json."""
    return _score_saved(args, "cache", lambda model, tok, dev, test, max_tokens, config: score_with_cache(
        model, tok, dev, test, args.cache_size, max_tokens=max_tokens))


def cmd_dynamic(args) -> dict:
    """Score a saved checkpoint with dynamic evaluation, alone and with a continuous cache (--cache-size 0: none):
    its step size and decay chosen on a dev prefix, the cache's on dev, then test once; writes
    OUT_DIR/<checkpoint name>_dynamic.json."""
    return _score_saved(args, "dynamic", lambda model, tok, dev, test, max_tokens, config: score_dynamic(
        model, tok, dev, test, lrs=config.dynamic_lrs, decays=config.dynamic_decays, segment_len=args.dynamic_segment,
        tune_tokens=config.dynamic_tune_tokens, cache_size=args.cache_size, thetas=config.cache_thetas,
        lambdas=config.cache_lambdas, max_tokens=max_tokens))


def cmd_written(args) -> None:
    import written

    written.main(args)


def cmd_sentiment(args) -> dict:
    """Beyond the handout (sentiment_ngrams.py): the table of bag-of-n-gram models on the course's IMDB splits,
    each row over --seeds seeds; plots/sentiment_ngrams.json and _dev_acc.png. Not part of `all` (it takes minutes)."""
    import sentiment_ngrams

    splits, glove = sentiment_ngrams.load_inputs(args.data_dir, quick=args.quick)
    rows = sentiment_ngrams.ROWS
    if args.quick:
        rows = sentiment_ngrams.quick_rows(rows, glove.vector_size)
    seeds = list(range(args.seed, args.seed + (1 if args.quick else args.seeds)))
    return sentiment_ngrams.run_sentiment(splits, glove, seeds=seeds, rows=rows, out_dir=args.out_dir,
                                          course_dir=Path(__file__).resolve().parent / DEFAULT_OUT_DIR,
                                          command="python main.py " + " ".join(args.argv))


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
        ok = value is not None and value == value and (low is None or value >= low) and (
            high is None or value < high or (value == high and not high_open))
        if not ok:
            what = "a whole number" if kind is int else "a number"
            if high is None:
                raise argparse.ArgumentTypeError(f"must be {what} >= {low:g}, got {text!r}")
            raise argparse.ArgumentTypeError(f"must be in [{low:g}, {high:g}{')' if high_open else ']'}, got {text!r}")
        return value
    return parse


def _run_name(text: str) -> str:
    if not text or not all(c.isalnum() or c in "-_" for c in text) or not text.isascii():
        raise argparse.ArgumentTypeError(f"must be letters, digits, - and _ (a file name), got {text!r}")
    return text


COMMON_FLAGS = [
    (("--data-dir",), dict(type=Path, help=f"folder with imdb/, glove/, wikitext-2/ (default: ${utils.DATA_DIR_ENV} "
                                           f"or ../shared/data)")),
    (("--out-dir",), dict(type=Path, help=f"where plots and JSON go (default: {DEFAULT_OUT_DIR}/, or "
                                          f"{QUICK_OUT_DIR}/ with --quick)")),
    (("--ckpt-dir",), dict(type=Path, help="where checkpoints go (default: checkpoints/, or "
                                           "runs/quick/checkpoints with --quick)")),
    (("--quick",), dict(action="store_true", help="small slices and few epochs: a smoke run in under a minute")),
    (("--seed",), dict(type=_number(int, 0), help="first seed (default 0)")),
    (("--device",), dict(help="auto (CUDA, then MPS, then the CPU: the default), cpu, cuda, cuda:N or mps")),
    (("--debug",), dict(action="store_true", help=f"show the Python traceback of an error (or set {DEBUG_ENV}=1)")),
]
MLP_FLAGS = [
    (("--seeds",), dict(type=_number(int, 1), help="seeds per config; plots show the mean and the band across "
                                                   "seeds (default 3; 1 with --quick)")),
    (("--epochs",), dict(type=_number(int, 1), help="epochs per run (default 20, as the course)")),
    (("--sweeps",), dict(nargs="+", choices=list(SWEEPS), help="which sweeps of 6.1 to run (default: all three)")),
    (("--resume",), dict(action="store_true", help="keep the runs an interrupted sweep finished and run the rest "
                                                   "(with `all`: the language model's training goes on too)")),
]
LM_CONFIG_FLAG = (("--config",), dict(choices=["default", "long", "course"],
                                      help="language-model preset: default (< 20 min on 2 cores), long (wider, "
                                           "more epochs) or course (the course's model and optimiser, no additions)"))
LM_FLAGS = [
    LM_CONFIG_FLAG,
    (("--resume",), dict(action="store_true", help="continue an interrupted run from its last finished epoch")),
    (("--epochs",), dict(type=_number(int, 1), help="override the preset's number of epochs")),
    (("--output-layer",), dict(choices=["adaptive", "full"],
                               help="adaptive softmax (the preset's) or the course's full softmax")),
    (("--window",), dict(type=_number(int, 1), help="override the local window size")),
    (("--global-window",), dict(type=_number(int, 0),
                                help="override the number of far words averaged into a global context (0: none)")),
    (("--dropout",), dict(type=_number(float, 0.0, 1.0, high_open=True), help="override the dropout rate, in [0, 1)")),
    (("--precision",), dict(choices=["fp32", "bf16"], help="fp32 (the default) or bf16 autocast where the device "
                                                           "supports it")),
    (("--ema-decay",), dict(type=_number(float, 0.0, 1.0, high_open=True),
                            help="override the weight-average decay, in [0, 1) (0: score the last iterate)")),
    (("--cache-size",), dict(type=_number(int, 0), help="after training, also score the best model with a "
                                                       "continuous cache of this many tokens (default 2000; 0: off)")),
    (("--dynamic-segment",), dict(type=_number(int, 0), help="after training, also score the best model with dynamic "
                                                            "evaluation in segments of this many tokens (0: off)")),
    (("--tie-embeddings",), dict(choices=["on", "off"], help="output word vectors shared with the input embeddings")),
    (("--embed-dropout",), dict(type=_number(float, 0.0, 1.0, high_open=True),
                                help="share of word types dropped from a batch's input lookups, in [0, 1)")),
    (("--input-dropout",), dict(type=_number(float, 0.0, 1.0, high_open=True),
                                help="dropout on the concatenated context vectors, in [0, 1)")),
    (("--weight-decay",), dict(type=_number(float, 0.0), help="override the (decoupled) weight decay")),
    (("--threads",), dict(type=_number(int, 1), help="torch threads (default: the preset's, 2)")),
    (("--name",), dict(type=_run_name, help="name the run's files mlp_lm_NAME.* (default: the preset's name); "
                                            "letters, digits, - and _")),
]
CHECKPOINT_FLAG = (("--checkpoint",), dict(type=Path, help="default: CKPT_DIR/mlp_lm.pt (mlp_lm_long.pt with "
                                                           "--config long, mlp_lm_quick.pt with --quick)"))
SAMPLE_FLAGS = [
    LM_CONFIG_FLAG, CHECKPOINT_FLAG,
    (("--prompt",), dict(help="the text to continue (default: the course's prompt)")),
    (("--top-p",), dict(type=_number(float, 0.0, 1.0), help="sample once with this top_p in [0, 1] (0 is greedy) "
                                                           "instead of greedy, 0.3 and 1.0")),
    (("--max-len",), dict(type=_number(int, 0), help="tokens to generate (default 30)")),
]
CACHE_FLAGS = [
    LM_CONFIG_FLAG, CHECKPOINT_FLAG,
    (("--cache-size",), dict(type=_number(int, 1), help="past tokens in the cache (default 2000)")),
]
DYNAMIC_FLAGS = [
    LM_CONFIG_FLAG, CHECKPOINT_FLAG,
    (("--dynamic-segment",), dict(type=_number(int, 1), help="tokens scored between two steps (default 50)")),
    (("--cache-size",), dict(type=_number(int, 0), help="past tokens in the continuous cache combined with it "
                                                       "(default 2000; 0: none)")),
]
DEFAULTS = {"data_dir": None, "out_dir": None, "ckpt_dir": None, "quick": False, "seed": 0, "device": None,
            "debug": False, "resume": False, "dropout": None, "precision": None,
            "seeds": 3, "epochs": None, "sweeps": list(SWEEPS), "config": "default", "output_layer": None,
            "window": None, "global_window": None, "ema_decay": None, "checkpoint": None, "name": None,
            "tie_embeddings": None, "embed_dropout": None, "input_dropout": None, "weight_decay": None,
            "dynamic_segment": None, "threads": None,
            "prompt": mlp_lm.COURSE_PROMPT,
            "top_p": None, "max_len": 30}
COMMANDS = {  # name: (help, function, flags)
    "all": ("run everything (the default): written checks and figures, the MLP sweeps, the language model",
            cmd_all, MLP_FLAGS),
    "mlp": ("the three MLP sweeps of section 6.1 (structures, activations, learning rates)", cmd_mlp, MLP_FLAGS),
    "lm": ("train and score the fixed-window neural language model on WikiText-2", cmd_lm, LM_FLAGS),
    "sample": ("generate text from a saved language-model checkpoint", cmd_sample, SAMPLE_FLAGS),
    "cache": ("score a saved language-model checkpoint with a continuous cache (dev-tuned, then test)",
              cmd_cache, CACHE_FLAGS),
    "dynamic": ("score a saved language-model checkpoint with dynamic evaluation, alone and with the cache",
                cmd_dynamic, DYNAMIC_FLAGS),
    "written": ("check every written answer (sections 1-5) and draw Figures 1 and 2", cmd_written, []),
    "replot": ("redraw the language model's plots from the JSON histories in OUT_DIR", cmd_replot, []),
    "sentiment": ("beyond the handout: bags of n-grams, trained embeddings and NB weighting on the IMDB splits",
                  cmd_sentiment, [MLP_FLAGS[0]]),
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
        prog="main.py", description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Run `python main.py COMMAND --help` for the flags of one command. Flags may come before or "
               "after the command.")
    _add_flags(parser, COMMON_FLAGS + MLP_FLAGS)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (help_text, _, flags) in COMMANDS.items():
        _add_flags(sub.add_parser(name, help=help_text, description=help_text), COMMON_FLAGS + flags)
    return parser


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse, reject a flag given before a command that does not take it, fill the defaults, and build the
    language model's config: every value is checked here, before any data is read or file written."""
    parser = build_parser()
    args = parser.parse_args(argv)
    args.command = args.command or "all"
    help_text, args.func, flags = COMMANDS[args.command]

    def fail(message: str):
        parser.exit(2, f"main.py {args.command}: error: {message} (see `main.py {args.command} --help`)\n")

    accepted = {kwargs.get("dest", names[0].lstrip("-").replace("-", "_")) for names, kwargs in COMMON_FLAGS + flags}
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
    args.ckpt_dir = args.ckpt_dir or (QUICK_OUT_DIR / "checkpoints" if args.quick else Path("checkpoints"))
    args.epochs = args.epochs if args.epochs is not None or args.command not in ("all", "mlp") else 20
    if args.command in ("cache", "dynamic"):
        args.cache_size = 2000 if getattr(args, "cache_size", None) is None else args.cache_size
    if args.command == "dynamic":
        args.dynamic_segment = args.dynamic_segment or DYNAMIC_SEGMENT
    if args.command in ("lm", "all"):
        try:
            args.lm_config = lm_config(args)
        except ValueError as err:
            fail(str(err))
        if utils.distributed_env()[1] > 1 and not args.lm_config.fast:
            fail(f"the {args.lm_config.name} config trains in one process (the course's DataLoader pipeline); "
                 f"run it without torchrun")
        if args.command == "lm" and args.resume and not lm_state(args).is_file():
            fail(f"--resume: nothing to resume, {lm_state(args)} does not exist; run without --resume")
    writes = {"all": ("out_dir", "ckpt_dir"), "mlp": ("out_dir", "ckpt_dir"), "lm": ("out_dir", "ckpt_dir"),
              "cache": ("out_dir",), "dynamic": ("out_dir",), "written": ("out_dir",), "replot": ("out_dir",),
              "sentiment": ("out_dir",)}
    if args.command == "sentiment" and args.device not in (None, "auto", "cpu"):
        fail(f"--device {args.device}: `sentiment` trains on the CPU (sparse lookups); leave --device out")
    for dest in writes.get(args.command, ()):
        problem = _unwritable(getattr(args, dest))
        if problem:
            fail(f"--{dest.replace('_', '-')} {getattr(args, dest)}: {problem}; pass a folder you can write to")
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
EXPECTED_FAULTS = (utils.DataNotFoundError, utils.DataFileError, utils.EmbeddingsFormatError, utils.TrainingDiverged,
                   mlp_lm.CheckpointError)


def _interrupted(args) -> str:
    """What an interrupted command kept, and how to go on."""
    again = "python main.py " + " ".join(a for a in args.argv if a != "--resume") + " --resume"
    if args.command == "lm" or (args.command == "all" and lm_state(args).is_file()):
        state = lm_state(args)
        if not state.is_file():
            return "stopped before the first epoch ended; nothing was kept"
        return (f"the best checkpoint so far is {lm_checkpoint(args)} and the state after the last finished epoch "
                f"is {state}; `{again.strip()}` goes on from there")
    if args.command in ("mlp", "all"):
        return (f"the sweep runs that finished are kept in {args.out_dir}/<sweep>.partial.json; "
                f"`{again.strip()}` runs only the others")
    return "nothing was written"


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # from here on Ctrl-C is a KeyboardInterrupt
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
