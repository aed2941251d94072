"""The commands of `python main.py`: each one's help, the folders it writes into and a check of its
own flags (`COMMANDS`); main.py holds the functions that run them."""

from __future__ import annotations

import dataclasses
from typing import Callable

from cli.flags import Flag
from common import download
from lm.run import lm_checkpoint, saved_lm_config


@dataclasses.dataclass(frozen=True)
class Command:
    help: str
    writes: tuple = ()  # the folders it writes into, checked before any work
    needs: Callable = lambda args: None  # a check of its own flags: the problem, or None
    # the data sets it reads (common/download.py's), fetched first where missing
    data: Callable = lambda args: []


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


def _checkpoint_then_wikitext(args) -> list:
    """WikiText-2, once the checkpoint to score is known good: a missing or wrong one says so
    before any fetch."""
    saved_lm_config(lm_checkpoint(args))
    return download.needed(wikitext=True)


COMMANDS = {
    "all": Command(
        "run everything (the default): written checks and figures, the MLP sweeps, the "
        "language model",
        ("out_dir", "ckpt_dir"),
        data=lambda a: download.needed(imdb=True, embeddings=a.embeddings, wikitext=True),
    ),
    "mlp": Command(
        "the six MLP sweeps of section 6.1: the handout's three (structures, activations, learning "
        "rates) and the controls of 6.1.3 (depth_vs_lr, depth_probe) and 6.1.4 (tanh_lr)",
        ("out_dir", "ckpt_dir"),
        data=lambda a: download.needed(imdb=True, embeddings=a.embeddings),
    ),
    "lm": Command(
        "train and score the fixed-window neural language model on WikiText-2",
        ("out_dir", "ckpt_dir"),
        data=lambda a: download.needed(wikitext=True, full_train=a.full_train),
    ),
    "sample": Command("generate text from a saved language-model checkpoint"),
    "cache": Command(
        "score a saved language-model checkpoint with a continuous cache (dev-tuned, then test)",
        ("out_dir",),
        _at_least(1, "--cache-size"),
        _checkpoint_then_wikitext,
    ),
    "dynamic": Command(
        "score a saved language-model checkpoint with dynamic evaluation, alone and with the cache",
        ("out_dir",),
        lambda a: _at_least(1, "--dynamic-segment")(a) or _at_least(0, "--cache-size")(a),
        _checkpoint_then_wikitext,
    ),
    "written": Command(
        "check every written answer (sections 1-5) and draw Figures 1 and 2",
        ("out_dir",),
    ),
    "replot": Command(
        "redraw the plots of OUT_DIR from their JSON (language model, MLP sweeps, sentiment)",
        ("out_dir",),
    ),
    "sentiment": Command(
        "beyond the handout: bags of n-grams, trained embeddings and NB weighting "
        "on the IMDB splits, and what the course's GloVe average is made of",
        ("out_dir",),
        lambda a: (
            None
            if a.device in (None, "auto", "cpu")
            else f"--device {a.device}: `sentiment` trains on the CPU (sparse lookups); "
            f"leave --device out"
        ),
        lambda a: download.needed(imdb=True, embeddings="6b"),
    ),
    "lstm": Command(
        "train a small LSTM language model for a wall-clock budget and score it as `lm` does",
        ("out_dir", "ckpt_dir"),
        data=lambda a: download.needed(wikitext=True),
    ),
    "data": Command(
        "fetch the data sets that are missing from the data folder, checked (docs/data.md)",
    ),
    "compare": Command(
        "print the run in OUT_DIR beside the committed run (reference/) and say what reproduced",
    ),
}


def fetch_first(args) -> None:
    """Fetch the data sets that the command reads and the data folder lacks (common/download.py's
    `fetch_missing`; with --offline or $HW3_OFFLINE, the missing file's one line instead), before
    the command starts; `args.fetching` while it runs, for what Ctrl-C says."""
    wanted = COMMANDS[args.command].data(args)
    if not wanted:
        return
    args.fetching = True
    download.fetch_missing(
        wanted,
        args.data_dir,
        offline=args.offline,
        timeout=args.timeout,
        say=lambda line: print(line, flush=True),
    )
    args.fetching = False
