"""Every flag of `python main.py`, declared once (`FLAGS`): its help, the commands that take it, its
default and the config field it sets."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any, Optional

from common import datafiles
from common.settings import Setting, settings_of
import mlp_lm
from lm.scoring import DYNAMIC_SEGMENT
from mlp import MLPConfig
from nplm.optim import SCHEDULES
from sweeps.definitions import SWEEPS

DEFAULT_OUT_DIR = Path("plots")
DEBUG_ENV = "HW3_DEBUG"
QUICK_OUT_DIR = Path("runs") / "quick"


def _number(kind, low=None, high=None, high_open=False):
    """An argparse type: a finite `kind` in [low, high] (or [low, high)); the error says what is
    expected."""
    return Setting("", kind=kind, low=low, high=high, open_high=high_open).parse


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
    # argparse's type, choices, nargs, action
    kwargs: dict = dataclasses.field(default_factory=dict)

    @property
    def dest(self) -> str:
        return self.name.lstrip("-").replace("-", "_")

    def default_for(self, args):
        default = self.default
        if isinstance(default, dict):
            return default.get(args.command)
        return default(args) if callable(default) else default


def config_flags(config, with_defaults: bool = False) -> list:
    """A flag for each field of the config dataclass whose Setting names the commands taking it:
    the Setting's help and flag name, its type parsed from the word (on/off for a switch), its
    choices. Unset, the flag is the field's default (`with_defaults`) or None, for the config's
    own value (a preset's) to stand. The range is the config's to check: its check_settings names
    the field, and parse_args the flag."""
    fields = {f.name: f for f in dataclasses.fields(config)}
    flags = []
    for name, declared in settings_of(config).items():
        if not declared.commands:
            continue
        if declared.choices:
            kwargs = dict(choices=list(declared.choices))
        elif declared.kind is bool:
            kwargs = dict(type=_on_off, metavar="{on,off}")
        else:
            kwargs = dict(type=declared.kind)
        if declared.many:
            kwargs["nargs"] = "+"
        field, default = fields[name], None
        if with_defaults:
            made = field.default_factory is not dataclasses.MISSING
            default = field.default_factory() if made else field.default
        flags.append(
            Flag(declared.flag_name(name), declared.help, declared.commands, default, name, kwargs)
        )
    return flags


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
        "epochs of training (default: the preset's)",
        LM,
        field="num_epochs",
        kwargs=dict(type=int),
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
        "which sweeps of 6.1 to run (default: all six: the handout's three and the controls of "
        "6.1.3 and 6.1.4)",
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
# the sweeps' flags: MLPConfig's settings that `mlp` and `all` take
FLAGS += config_flags(MLPConfig, with_defaults=True)
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
