"""Parsing `python main.py`'s command line: every value is checked, and the configs are built,
before any data is read or file written."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Optional, Sequence

import utils
from common import download
from cli.commands import COMMANDS
from cli.flags import COMMAND_CONFIGS, DEBUG_ENV, FLAGS, SWEEPING, Flag
from mlp import MLPConfig
from lm.config import LMRunConfig
from lm.lstm import LSTMConfig, lstm_stem
from lm.run import lm_checkpoint, lm_state

DESCRIPTION = (
    "Homework 3: `python main.py` runs every experiment and writes plots and JSON in plots/."
)


def _shown(value) -> str:
    """A config value as --help shows it."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, list):
        return " ".join(map(str, value))
    if isinstance(value, float):
        return f"{value:g}"
    return "none" if value is None else str(value)


def _help(flag: Flag, command: str) -> str:
    """The flag's help, ending with its value in the command's config (for `lm`, the default
    preset's)."""
    make = COMMAND_CONFIGS.get(command)
    if flag.field is None or make is None:
        return flag.help
    return f"{flag.help} (default: {_shown(getattr(make(), flag.field))})"


def _overrides(args, command: str) -> dict:
    """{field: value} of the config flags of `command` that were given."""
    return {
        f.field: getattr(args, f.dest)
        for f in FLAGS
        if f.field and f.dest in args.given and command in f.commands
    }


def lm_config(args) -> LMRunConfig:
    """The language model's config, built once from the flags: a preset with the fields of the flags
    that were given. A value out of range is refused by its setting (a utils.ConfigError naming the
    field)."""
    overrides = _overrides(args, "lm")
    if args.device:
        overrides["device"] = args.device
    preset = "quick" if args.quick else args.config
    return LMRunConfig.preset(
        preset, seed=args.seed, save_path=str(lm_checkpoint(args)), **overrides
    )


def lstm_config(args) -> LSTMConfig:
    """The LSTM's config, built once from the flags: the default (or --quick) config with the
    fields of the flags given; a value out of range is refused by its setting."""
    overrides = _overrides(args, "lstm")
    if args.device:
        overrides["device"] = args.device
    name = args.name or ("quick" if args.quick else "default")
    save_path = str(args.ckpt_dir / f"{lstm_stem(name)}.pt")
    build = LSTMConfig.quick if args.quick else LSTMConfig
    try:
        return build(**{"seed": args.seed, "save_path": save_path, "name": name, **overrides})
    except utils.ConfigError as err:
        # the check between the two fields names the one this command line set
        if err.field != "max_train_tokens" or "max_train_tokens" in overrides:
            raise
        expected = f"at most half of max_train_tokens ({err.value // 2}), 2 tokens per column"
        raise utils.ConfigError("LSTMConfig", "batch_size", expected, overrides["batch_size"])


def _flag_of(field: str, command: str) -> str:
    """The flag that sets a config field for `command` (--the-field where none does)."""
    names = {f.field: f.name for f in FLAGS if f.field and command in f.commands}
    return names.get(field, "--" + field.replace("_", "-"))


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
        description=DESCRIPTION,
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

    def fail(message: str):
        parser.exit(
            2, f"main.py {args.command}: error: {message} (see `main.py {args.command} --help`)\n"
        )

    args.given = set(vars(args)) - {"command"}
    taken = {f.dest for f in FLAGS if args.command in f.commands}
    stray = sorted(f.name for f in FLAGS if f.dest in args.given - taken)
    if stray:
        fail(f"{stray[0]} does not apply to `{args.command}`")
    # every flag's attribute exists, for every command: where two flags share a name (`--epochs`
    # of the sweeps and of `lm`), the command's own comes last; defaults that depend on other
    # flags come after those they read
    for flag in sorted(FLAGS, key=lambda f: (args.command in f.commands, callable(f.default))):
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
        flag = _flag_of(err.field, args.command)
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
    args.offline = args.offline or download.offline_set()
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
