"""Faults a user can cause and mend, and interruptions: one line on stderr and a non-zero exit code
(a traceback only with --debug)."""

from __future__ import annotations

import signal
import sys
from typing import Callable

import utils
from common import datafiles, download, glove
from common import reference as reference_run
from nplm.checkpoint import CheckpointError
from lm.lstm import StreamTooShort
from lm.run import lm_checkpoint, lm_state
from cli import parts

# Faults a user can cause and mend: one line on stderr and exit code 2 (a traceback only with
# --debug).
EXPECTED_FAULTS = (
    datafiles.DataNotFoundError,
    datafiles.DataFileError,
    glove.EmbeddingsFormatError,
    utils.TrainingDiverged,
    CheckpointError,
    reference_run.NothingToCompare,
    reference_run.RunFileError,
    utils.DiskFullError,
    download.FetchError,
    StreamTooShort,
)


def _interrupted(args) -> str:
    """What an interrupted command kept, and how to go on."""
    if getattr(args, "fetching", False):
        return (
            "the downloads so far are kept; the same command (or `python main.py data`) "
            "continues them"
        )
    again = " ".join(["python main.py", *(a for a in args.argv if a != "--resume"), "--resume"])
    if args.command == "lm":
        state = lm_state(args)
        if not state.is_file():
            return "stopped before the first training step ended; nothing was kept"
        best = lm_checkpoint(args)
        best = f"the best checkpoint so far is {best} and " if best.is_file() else ""
        return (
            f"{best}the training state kept last (within an epoch or after one) is {state}; "
            f"`{again.strip()}` goes on from there"
        )
    if args.command == "all":
        return parts.kept_message(args, parts.part_names(args), again.strip())
    if args.command == "mlp":
        return parts.kept_message(args, args.sweeps, again.strip())
    if args.command == "lstm":
        return (
            f"the best checkpoint so far (if dev was scored) is {args.lstm_config.save_path}; "
            "no JSON was written"
        )
    if args.command == "data":
        return "the downloads so far are kept; `python main.py data` again continues them"
    return "nothing was written"


def run_guarded(command: Callable, args, first: Callable | None = None) -> int:
    """Run `first(args)` (main.py's: fetch the missing data), then `command(args)`: Ctrl-C and
    SIGTERM as one line saying what was kept, each expected fault as one line; the exit code (0, 2,
    130 or 143)."""
    # from here on Ctrl-C is a KeyboardInterrupt
    signal.signal(signal.SIGINT, signal.default_int_handler)
    # SIGTERM (schedulers, `timeout`) is handled as Ctrl-C is, with exit code 143
    terminated = []

    # in a process forked from this one too, as Ctrl-C would be
    def on_sigterm(signum, frame):
        terminated.append(signum)
        raise KeyboardInterrupt

    previous_sigterm = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        if first is not None:
            first(args)
        command(args)
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
    # a caller of main() (a test) gets its own handler back
    finally:
        signal.signal(signal.SIGTERM, previous_sigterm)
    return 0
