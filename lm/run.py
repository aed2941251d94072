"""The language model's run, as `python main.py lm` does it: train the model of the config
(lm/train.fit_mlp_lm), plot its loss and perplexity, score the best checkpoint on dev and test, then
with a continuous cache (Grave, Joulin and Usunier 2017; lm/cache.py) and dynamic evaluation
(Krause et al. 2018; lm/dynamic.py), sample the course's prompt, and write every number to
OUT_DIR/<stem>.json; and the commands that reuse a saved run: `sample`, `cache`, `dynamic` (a
checkpoint) and `replot` (the JSON histories).

The run's config is lm/config.LMRunConfig, whose presets turn the scoring on. Each command takes
main.py's parsed flags (`args`); one rule (`lm_stem`) names a run's files.
"""

from __future__ import annotations

import contextlib
import os
import sys
import textwrap
from pathlib import Path
from typing import Optional

import torch
import torch.nn as nn

from common import datafiles
from common.reference import SHAPE_ERRORS, read_run_json, shape_fault
from nplm import distributed
from nplm import kernels as lm_kernels
import mlp_lm
import utils
from lm.config import LMRunConfig
from lm.train import fit_mlp_lm
from lm.cache import read_with_static_loss, score_with_cache
from lm.dynamic import score_dynamic
from lm.pipeline import ModelRun, Trained, run_pipeline
from lm.scoring import Reader, Scoring, scoring_workers
from nplm.corpus import FULL_TRAIN_FILE, TRAIN_FILE, WindowBatches, encode_stream
from nplm.checkpoint import CheckpointError, load_checkpoint_meta


def lm_run_name(args) -> str:
    """The run's name: --name, else the preset's ("quick" with --quick); "_fulltrain" after it when
    it trains on the whole official train file, so that its files and numbers stand apart."""
    name = getattr(args, "name", None) or ("quick" if args.quick else args.config)
    return f"{name}_fulltrain" if getattr(args, "full_train", False) else name


def lm_stem(run_name: str) -> str:
    """The one rule that names a language-model run's files: mlp_lm.pt, .json, _loss.png for the
    default run, mlp_lm_long.* and mlp_lm_quick.* for the others."""
    return "mlp_lm" if run_name == "default" else f"mlp_lm_{run_name}"


def lm_checkpoint(args) -> Path:
    return getattr(args, "checkpoint", None) or args.ckpt_dir / f"{lm_stem(lm_run_name(args))}.pt"


def lm_state(args) -> Path:
    """Where `lm` keeps its training state after every epoch, for --resume."""
    return args.ckpt_dir / f"{lm_stem(lm_run_name(args))}.state.pt"


def cmd_lm(args) -> Optional[dict]:
    """Train, keep the best checkpoint, plot loss and perplexity, score the best model on dev and
    test (and with a continuous cache), sample the course's prompt; all numbers go to
    OUT_DIR/<stem>.json.

    Under torchrun (WORLD_SIZE > 1) the processes train together with DistributedDataParallel (gloo
    on CPUs, NCCL on GPUs), score dev and test together, and rank 0 alone writes and returns the
    report."""
    config = args.lm_config
    rank, world = utils.process_ranks()[:2]
    with distributed.process_group(config.device, rank, world):
        lm_kernels.keep_freed_memory()
        # one process speaks
        with open(os.devnull, "w") if rank else contextlib.nullcontext(sys.stdout) as out:
            with utils.torch_threads(config.num_threads), contextlib.redirect_stdout(out):
                return run_pipeline(FixedWindowRun(args, config, rank, world))


class FixedWindowRun(ModelRun):
    """The fixed-window model's part of the pipeline (lm/pipeline.py): trained by
    lm/train.fit_mlp_lm (resumable, under torchrun too), scored in windows, plotted and sampled."""

    def __init__(self, args, config, rank: int, world: int):
        self.args, self.config, self.rank, self.world = args, config, rank, world
        self.stem = lm_stem(lm_run_name(args))
        self.full_train = getattr(args, "full_train", False)
        self.reader = Reader(
            batch_size=config.eval_batch,
            max_tokens=config.max_dev_tokens,
            max_train_tokens=config.max_train_tokens,
            workers=scoring_workers(config) if world == 1 else 1,
        )

    def load_data(self) -> tuple:
        splits = ("train", "validation", "test")
        return mlp_lm.load_data_mlp_lm(self.args.data_dir, splits, full_train=self.full_train)

    def train(self, data) -> Trained:
        state = lm_state(self.args)
        run = fit_mlp_lm(
            self.config,
            data[0],
            data[1],
            state_path=state,
            resume=self.args.resume and state.is_file(),
        )
        return Trained(run.model, run.tokenizer, run.report)

    def score_static(self, trained: Trained, data) -> dict:
        """The best model on the whole dev and test splits (a quick run cuts them as it cut dev),
        the processes' shares added under torchrun. In one process, the same pass keeps each
        split's features and log-probs in `self.passes` for the cache and the n-gram mixture."""
        model, tok, config = trained.model, trained.tokenizer, self.config
        device = next(model.parameters()).device
        scores, self.passes = {}, {}
        for split, split_data in (("dev", data[1]), ("test", data[2])):
            stream = encode_stream(split_data, tok, config.max_dev_tokens)
            if self.world == 1:
                read, (loss, ppl) = read_with_static_loss(
                    model, stream, tok.pad_token_id, config.eval_batch
                )
                self.passes[split] = read
            else:
                batches = WindowBatches(
                    stream,
                    model.context_size,
                    tok.pad_token_id,
                    config.eval_batch,
                    device=device,
                    rank=self.rank,
                    world=self.world,
                )
                loss, ppl = mlp_lm.evaluate(model, batches, nn.NLLLoss())
            scores[split] = {"loss": loss, "ppl": ppl, "targets": stream.numel()}
        self.passes = self.passes or None
        return scores

    def writes(self) -> bool:
        return self.rank == 0

    def report(self, trained: Trained, scored: dict) -> dict:
        config = self.config
        plots = plot_lm_history(trained.report["history"], config, self.args.out_dir / self.stem)
        samples = mlp_lm.sample_prompt(trained.model, trained.tokenizer, seed=config.seed)
        return {
            "config": config.to_dict(),
            # what it trained on: the prefix that ../shared/data holds (the default), or the whole
            # file
            "train_file": FULL_TRAIN_FILE if self.full_train else TRAIN_FILE,
            **trained.report,
            **scored,
            "samples": samples,
            "prompt": mlp_lm.COURSE_PROMPT,
            "plots": [str(p) for p in plots],
        }

    def json_path(self) -> Path:
        return self.args.out_dir / f"{self.stem}.json"

    def summary(self, report: dict, json_path: Path) -> str:
        return (
            f"best dev perplexity {report['best_dev_ppl']:.2f} (epoch {report['best_epoch']}); "
            f"wall time {report['wall_seconds']:.0f} s; wrote {', '.join(report['plots'])}, "
            f"{json_path}"
        )


def plot_lm_history(history: dict, config, stem: Path) -> list:
    """`<stem>_loss.png` and `<stem>_ppl.png`: train and dev per epoch, titled with the preset and
    its seed and the fields that differ from the preset (so the default, long, ablation and
    second-seed runs are told apart)."""
    preset = type(config).preset(config.name).to_dict()
    # what, not where
    changed = [
        f"{k}={v}"
        for k, v in config.to_dict().items()
        if k not in ("save_path", "seed", "name", "device", "num_threads") and preset[k] != v
    ]
    title = f"MLP language model, {config.name} config, seed {config.seed}" + (
        f" ({', '.join(changed)})" if changed else ""
    )
    # a long list of fields would squeeze the axes
    title = textwrap.fill(title, 80)
    return [
        mlp_lm.visualize_epochs(
            history[f"train_{key}"],
            history[f"dev_{key}"],
            label,
            stem.with_name(f"{stem.name}_{key}.png"),
            title=f"{title}\n{label}",
        )
        for key, label in (("loss", "Loss (NLL per token)"), ("ppl", "Perplexity"))
    ]


def cmd_replot(args) -> list:
    """Redraw the language model's plots from the histories in OUT_DIR/**/mlp_lm*.json (no
    training)."""
    drawn = []
    for path in sorted(args.out_dir.rglob("mlp_lm*.json")):
        report = read_run_json(path)
        if isinstance(report, dict) and "history" not in report:  # a cache or benchmark result
            continue
        try:
            config = LMRunConfig.from_dict(report["config"])
            drawn += plot_lm_history(report["history"], config, path.with_suffix(""))
        except SHAPE_ERRORS as err:
            raise shape_fault(path, err) from err
    print(f"redrew {len(drawn)} plots: {', '.join(map(str, drawn))}")
    return drawn


def saved_lm_config(path: Path, **overrides):
    """The LMConfig saved beside a checkpoint (checked before any data is read); CheckpointError
    for an LSTM's checkpoint, which these commands cannot rebuild (`lstm` scores its own)."""
    _, meta = load_checkpoint_meta(path)
    if meta.get("kind") == "lstm":
        raise CheckpointError(
            f"{path} is an LSTM's checkpoint (saved by `python main.py lstm`, which scores it with "
            "the cache, the n-gram mixture and dynamic evaluation itself: see its JSON); sample, "
            "cache and dynamic take the fixed-window model's, from `python main.py lm`"
        )
    return LMRunConfig.from_dict(meta["config"], **overrides)


def _device_override(args) -> dict:
    return {"device": args.device} if args.device else {}


def cmd_sample(args) -> dict:
    """Rebuild the saved model, report its dev perplexity if the data is there, print the
    samples."""
    path = lm_checkpoint(args)
    config = saved_lm_config(path, save_path=str(path), seed=args.seed, **_device_override(args))
    try:
        (dev_data,) = mlp_lm.load_data_mlp_lm(args.data_dir, splits=("validation",))
    except datafiles.DataNotFoundError as err:
        print(f"note: no dev perplexity ({err})", file=sys.stderr)
        dev_data = None
    top_ps = (None, 0.3, 1.0) if args.top_p is None else (args.top_p,)
    lm_kernels.keep_freed_memory()
    with utils.torch_threads(config.num_threads):
        return mlp_lm.sample_from_mlp_lm(
            config,
            dev_data,
            prompt=args.prompt,
            top_ps=top_ps,
            max_len=args.max_len,
            run=mlp_lm.SampleRun(config.device, config.seed, config.eval_batch),
        )


def _score_saved(args, kind: str, score) -> dict:
    """Load the checkpoint of `args`, score it on dev and test with `score(model, tokenizer, (dev,
    test), config, reader)` (dev and test cut as the run cut them with --quick), and write
    OUT_DIR/<checkpoint name>_<kind>.json with the command that made it."""
    path = lm_checkpoint(args)
    config = saved_lm_config(path, save_path=str(path), **_device_override(args))
    model, tokenizer, meta = mlp_lm.load_checkpoint(path, config)
    model.to(utils.get_device(config.device))
    dev_data, test_data = mlp_lm.load_data_mlp_lm(args.data_dir, splits=("validation", "test"))
    lm_kernels.keep_freed_memory()
    with utils.torch_threads(config.num_threads):
        reader = Reader(
            max_tokens=config.max_dev_tokens if args.quick else None,
            workers=scoring_workers(config),
        )
        result = score(model, tokenizer, (dev_data, test_data), config, reader)
    report = {
        "command": "python main.py " + " ".join(args.argv),
        "checkpoint": str(path),
        "checkpoint_epoch": meta.get("epoch"),
        "checkpoint_dev_ppl": meta.get("dev_ppl"),
        **result,
        "torch_threads": torch.get_num_threads(),
        "torch_version": torch.__version__,
    }
    out = utils.atomic_write_json(report, args.out_dir / f"{path.stem}_{kind}.json")
    print(f"wrote {out}")
    return report


def cmd_cache(args) -> dict:
    """Score a saved checkpoint with a continuous cache: theta and lambda chosen on dev, then test
    once; writes OUT_DIR/<checkpoint name>_cache.json."""
    return _score_saved(
        args,
        "cache",
        # the default grids, whatever the run searched
        lambda model, tok, splits, config, reader: score_with_cache(
            model, tok, splits, Scoring(cache_size=args.cache_size), reader
        ),
    )


def cmd_dynamic(args) -> dict:
    """Score a saved checkpoint with dynamic evaluation, alone and with a continuous cache
    (--cache-size 0: none): its step size and decay chosen on a dev prefix, the cache's on dev, then
    test once; writes OUT_DIR/<checkpoint name>_dynamic.json."""
    return _score_saved(
        args,
        "dynamic",
        lambda model, tok, splits, config, reader: score_dynamic(
            model,
            tok,
            splits,
            Scoring.of(config, dynamic_segment=args.dynamic_segment, cache_size=args.cache_size),
            reader,
        ),
    )
