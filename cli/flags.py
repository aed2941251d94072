"""Every flag of `python main.py`, declared once (`FLAGS`): its help, the commands that take it, its
default and the config field it sets."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any, Optional

from common import datafiles, download
from common.settings import Setting, settings_of
import mlp_lm
from lm.config import LMRunConfig
from lm.lstm import LSTMConfig
from mlp import MLPConfig
from sentiment.ngrams import SEEDS as TABLE_SEEDS
from sweeps.definitions import SEEDS as SWEEP_SEEDS, SWEEPS

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


# The config whose values a command's flags stand for: a flag left out keeps its value (shown in
# --help). `lm` starts from a preset (--config, --quick) and `lstm` from its default or quick
# config; `cache` and `dynamic` score a saved checkpoint as the default preset would.
COMMAND_CONFIGS = {
    "all": MLPConfig,
    "mlp": MLPConfig,
    "lm": lambda: LMRunConfig.preset("default"),
    "cache": lambda: LMRunConfig.preset("default"),
    "dynamic": lambda: LMRunConfig.preset("default"),
    "lstm": LSTMConfig,
}


def _configured(field: str):
    """A flag's default: the field's value in the config of the command given."""

    def default(args):
        make = COMMAND_CONFIGS.get(args.command)
        return getattr(make(), field, None) if make else None

    return default


def config_flags(*configs) -> list:
    """A flag for each field of the config dataclasses whose Setting names the commands taking it:
    the Setting's help and flag name, its type parsed from the word (on/off for a switch), its
    choices; left out, the value of the command's config (`COMMAND_CONFIGS`). A field that two
    configs share (the scoring's) is one flag. The range is the config's to check: its
    check_settings names the field, and parse_args the flag."""
    flags, seen = [], set()
    for config in configs:
        for name, declared in settings_of(config).items():
            if not declared.commands or (name, declared) in seen:
                continue
            seen.add((name, declared))
            if declared.choices:
                kwargs = dict(choices=list(declared.choices))
            elif declared.kind is bool:
                kwargs = dict(type=_on_off, metavar="{on,off}")
            else:
                kwargs = dict(type=declared.kind)
            if declared.many:
                kwargs["nargs"] = "+"
            flag = declared.flag_name(name)
            flags.append(
                Flag(flag, declared.help, declared.commands, _configured(name), name, kwargs)
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
# the commands that fetch a data set they read and the data folder lacks (cli/commands.py's
# `data`); `sample` reads WikiText-2's dev split only for a perplexity it can go without
FETCHING = (*SWEEPING, *LM, "cache", "dynamic", "sentiment", *LSTM)
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
        "seeds per config; plots show the mean and the band across seeds (default: those of "
        f"reference/, {SWEEP_SEEDS} for the sweeps and {TABLE_SEEDS} for `sentiment`; 1 with "
        "--quick)",
        (*SWEEPING, "sentiment"),
        {**dict.fromkeys(SWEEPING, SWEEP_SEEDS), "sentiment": TABLE_SEEDS},
        kwargs=dict(type=_number(int, 1)),
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
        "--offline",
        f"never fetch: a data set that is missing stops the command with one line (or set "
        f"{download.OFFLINE_ENV}=1); without it, what is missing is fetched first, as by `data`",
        FETCHING,
        False,
        kwargs=dict(action="store_true"),
    ),
    Flag(
        "--timeout",
        f"seconds to wait for each read while fetching data, and at most that to connect "
        f"(default {download.READ_TIMEOUT:g} and {download.CONNECT_TIMEOUT:g})",
        ("data", *FETCHING),
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
        "go on from an interrupted run: the parts that finished are kept (the written "
        "figures, each sweep whose JSON is complete), a sweep keeps the runs it finished, the "
        "language model goes on from the training state it kept (within an epoch too)",
        (*SWEEPING, *LM),
        False,
        kwargs=dict(action="store_true"),
    ),
    Flag(
        "--quiet",
        "print only the summary at the end (each part's seconds, where its results are), not "
        "the status line and the parts' own output",
        ("all",),
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
]
# Every config field whose Setting names a command is that command's flag: the sweeps' (MLPConfig),
# the language model's (LMRunConfig: the course's fields, ours, the scoring) and the LSTM's. A
# flag left out keeps the value of the config the command builds (`COMMAND_CONFIGS`).
FLAGS += config_flags(MLPConfig, LMRunConfig, LSTMConfig)
