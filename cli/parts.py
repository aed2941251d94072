"""The parts of `python main.py` (command `all`), run one after another under one status line.

The parts, in order: the written checks, each MLP sweep of --sweeps, the language model
(`part_names`). Above their own output one line says which part this is (k of n), the time spent
and an estimate of what is left; on a terminal it is redrawn in place, in a log (not a terminal) it
is a plain line as each part starts and ends. The parts' progress bars are off beneath it, and with
--quiet their output too: only the summary is printed, at the end.

The estimate: each part's expected seconds are its `wall_seconds` in reference/ (the committed
run, on 2 cores; `WRITTEN_SECONDS` for the written part, which records none), scaled by this run's
pace so far (the seconds the parts run here took over what reference/ says they took).

With --resume a part that finished before is kept, not run again (`finished`): the written part
when its figures exist, a sweep when OUT_DIR holds its JSON for the configs and seeds that would
run, the language model when OUT_DIR holds its JSON for the same trained config. What an
interrupted run kept is `kept_message`'s.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Callable, List, Optional

import torch

import utils
from common import glove
from common.reference import RunFileError, read_run_json
from lm.run import lm_run_name, lm_state, lm_stem
from nplm.checkpoint import config_differences
from sweeps.definitions import SWEEPS
from sweeps.run import SweepRun, sweep_configs
from written.figures import FIGURE_FILES

# the written part's expected seconds (reference/ records none): the checks and two figures
WRITTEN_SECONDS = 10.0
# a part that reference/ has no time for
UNKNOWN_SECONDS = 60.0


def part_names(args) -> List[str]:
    """The parts of `all`, in the order they run: "written", each sweep of --sweeps, "lm"."""
    return ["written", *args.sweeps, "lm"]


def title(name: str) -> str:
    return {"written": "written checks", "lm": "language model"}.get(name, f"sweep {name}")


# --------------------------------------------------------------------------- where parts write
def sweep_dirs(args) -> tuple:
    """(out_dir, ckpt_dir) of the sweeps: runs on other vectors than GloVe 6B go beside those on
    it (OUT_DIR/glove-twitter-50), not over them."""
    if args.embeddings == "6b":
        return Path(args.out_dir), Path(args.ckpt_dir)
    name = glove.EMBEDDINGS[args.embeddings][0]
    return Path(args.out_dir) / name, Path(args.ckpt_dir) / name


def sweep_seeds(args) -> List[int]:
    return list(range(args.seed, args.seed + (1 if args.quick else args.seeds)))


QUICK_SWEEP_EPOCHS = 3  # a --quick sweep's epochs (and the sentiment control's)


def sweep_epochs(args) -> int:
    return QUICK_SWEEP_EPOCHS if args.quick else args.epochs


def sweep_json(args, name: str) -> Path:
    return sweep_dirs(args)[0] / f"{SWEEPS[name](1).name}.json"


def lm_json(args) -> Path:
    return Path(args.out_dir) / f"{lm_stem(lm_run_name(args))}.json"


def results_of(args, name: str) -> Path:
    """Where a part's results are."""
    if name == "written":
        return Path(args.out_dir)
    return lm_json(args) if name == "lm" else sweep_json(args, name)


# --------------------------------------------------------------------------- finished parts
def _read(path: Path) -> Optional[dict]:
    try:
        return read_run_json(path) if path.is_file() else None
    except RunFileError:
        return None  # damaged: run again


def _as_json(value):
    return json.loads(json.dumps(value))


def sweep_finished(args, name: str) -> bool:
    """True when OUT_DIR holds the JSON of sweep `name` finished for exactly the configs, labels
    and seeds that `python main.py` with these flags would run."""
    sweep = SWEEPS[name](sweep_epochs(args))
    saved = _read(sweep_json(args, name))
    if not isinstance(saved, dict) or not isinstance(saved.get("runs"), list):
        return False
    vectors = SimpleNamespace(name=glove.EMBEDDINGS[args.embeddings][0])
    configs = sweep_configs(sweep, SweepRun(device=args.device), vectors)
    wanted = [
        {"label": label, "config": _as_json(dataclasses.asdict(c))}
        for c, label in zip(configs, sweep.labels)
    ]
    runs = [{"label": r.get("label"), "config": r.get("config")} for r in saved["runs"]]
    seeds = sweep_seeds(args)
    return (
        saved.get("sweep") == sweep.name
        and saved.get("seeds") == seeds
        and runs == wanted
        and all(r.get("seeds") == seeds for r in saved["runs"])
    )


def lm_finished(args) -> bool:
    """True when OUT_DIR holds the language model's JSON for the config that would train."""
    saved = _read(lm_json(args))
    if not isinstance(saved, dict) or not isinstance(saved.get("config"), dict):
        return False
    config = args.lm_config
    trained = {f.name for f in dataclasses.fields(config)} - set(config.NOT_TRAINED)
    wanted = {k: v for k, v in _as_json(config.to_dict()).items() if k in trained}
    return not config_differences(wanted, {**config.ADDED_OFF, **saved["config"]})


def finished(args, name: str) -> bool:
    if name == "written":
        return all((Path(args.out_dir) / f).is_file() for f in FIGURE_FILES)
    return lm_finished(args) if name == "lm" else sweep_finished(args, name)


def kept_message(args, names: List[str], again: str) -> str:
    """What an interrupted `all` (or `mlp`) kept: the parts that finished, the files that hold
    partial work, and what `again` (the command with --resume) does."""
    done = [title(n) for n in names if finished(args, n)]
    sweeps = [n for n in names if n in SWEEPS]
    partial = [sweep_dirs(args)[0] / f"{SWEEPS[n](1).name}.partial.json" for n in sweeps]
    partial = [str(p) for p in partial if p.is_file()]
    if "lm" in names and lm_state(args).is_file() and not lm_finished(args):
        partial.append(f"{lm_state(args)} (the language model's training state)")
    kept = f"finished: {', '.join(done)}" if done else "no part had finished"
    work = f"; partial work in {', '.join(partial)}" if partial else ""
    if not done and not partial:
        return f"{kept}; nothing was kept (`{again}` would start from the beginning)"
    return f"{kept}{work}; `{again}` skips the finished parts and goes on from the partial work"


# --------------------------------------------------------------------------- expected seconds
def expected_seconds(args, reference_dir: Path, name: str) -> float:
    """A part's seconds in the committed run (reference/), `WRITTEN_SECONDS` for the written
    part."""
    if name == "written":
        return WRITTEN_SECONDS
    stem = f"{SWEEPS[name](1).name}" if name != "lm" else "mlp_lm"
    saved = _read(Path(reference_dir) / f"{stem}.json")
    seconds = saved.get("wall_seconds") if isinstance(saved, dict) else None
    return float(seconds) if isinstance(seconds, (int, float)) else UNKNOWN_SECONDS


def _clock(seconds: float) -> str:
    seconds = int(round(max(seconds, 0)))
    return f"{seconds // 60}:{seconds % 60:02d}" if seconds >= 60 else f"{seconds} s"


@dataclass
class Part:
    name: str
    run: Callable[[], object]
    expected: float
    seconds: Optional[float] = None  # None: not run yet
    kept: bool = False  # finished before, skipped on --resume


def estimate_left(parts: List[Part], current: int, in_part: float) -> float:
    """Seconds left: the expected seconds of the part under way (less what it has run) and of
    those after it, at this run's pace (what the parts run so far took over what they were
    expected to take; 1 before the first ends)."""
    ran = [p for p in parts[:current] if p.seconds is not None and not p.kept]
    pace = sum(p.seconds for p in ran) / sum(p.expected for p in ran) if ran else 1.0
    left = max(parts[current].expected * pace - in_part, 0.0)
    return left + pace * sum(p.expected for p in parts[current + 1 :])


class StatusLine:
    """The one line above the parts' output: redrawn in place on a terminal (the parts' lines
    written above it), a plain line in a log."""

    def __init__(self, stream, live: bool):
        self.stream, self.live, self.text, self.shown = stream, live, "", False

    def show(self, text: str) -> None:
        self.text = text
        if self.live:
            self.stream.write(f"\r\033[K{text}")
            self.shown = True
        else:
            self.stream.write(f"{text}\n")
        self.stream.flush()

    def keep(self, text: str) -> None:
        """A line that stays (a part done or kept): above the next status line."""
        self.stream.write(f"\r\033[K{text}\n" if self.live else f"{text}\n")
        self.stream.flush()
        self.shown = False

    def clear(self) -> None:
        if self.shown:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self.shown = False


class _Above:
    """stdout for a part under a live status line: each line is written above the status line,
    which is then drawn again with the time spent brought up to date."""

    def __init__(self, out, status: StatusLine, redraw: Callable[[], None]):
        self._out, self._status, self._redraw = out, status, redraw

    def write(self, text: str) -> int:
        self._status.clear()
        n = self._out.write(text)
        self._out.flush()
        if text.endswith("\n"):
            self._redraw()
        return n

    def __getattr__(self, name):
        return getattr(self._out, name)


def run_parts(parts: List[Part], quiet: bool, clock=time.perf_counter, err=None) -> float:
    """Run `parts` in order (skipping those kept), under the status line (on `err`, stderr by
    default; none with `quiet`), their bars off and, with `quiet`, their output too; returns the
    seconds in all."""
    err = err if err is not None else sys.stderr
    status = StatusLine(err, live=err.isatty() and not quiet)
    started, n = clock(), len(parts)

    def line(k: int, part_started: float, note: str = "") -> str:
        part, now = parts[k], clock()
        left = estimate_left(parts, k, now - part_started)
        return (
            f"[part {k + 1}/{n}] {title(part.name)}{note}: {_clock(now - started)} spent, "
            f"about {_clock(left)} left"
        )

    for k, part in enumerate(parts):
        if part.kept:
            if not quiet:
                status.keep(f"[part {k + 1}/{n}] {title(part.name)}: finished before, kept")
            continue
        part_started = clock()
        if not quiet:
            status.show(line(k, part_started))
        out = sys.stdout
        if quiet:
            out = open(os.devnull, "w")
        elif status.live:
            out = _Above(sys.stdout, status, lambda: status.show(line(k, part_started)))
        try:
            with utils.quiet_bars(), contextlib.redirect_stdout(out):
                part.run()
        finally:
            status.clear()
            if quiet:
                out.close()
        part.seconds = clock() - part_started
        if not quiet:
            status.keep(
                f"[part {k + 1}/{n}] {title(part.name)}: done in {_clock(part.seconds)}; "
                f"{_clock(clock() - started)} spent"
            )
    return clock() - started


def summary(parts: List[Part], results: List[Path], total: float) -> str:
    """Each part's seconds (or "kept") and where its results are; the whole run's seconds."""
    width = max(len(title(p.name)) for p in parts)
    rows = [
        f"  {k + 1}/{len(parts)} {title(p.name):<{width}}  "
        f"{'kept' if p.kept else f'{p.seconds:7.1f} s':>9}  {path}"
        for k, (p, path) in enumerate(zip(parts, results))
    ]
    return "\n".join([f"the run's parts, {total:.1f} s in all:", *rows])


def run_all(args, runs: dict, reference_dir: Path) -> List[Part]:
    """`python main.py` (command `all`): the parts of `part_names`, `runs[name]()` each, under
    one status line, the finished ones kept with --resume; prints the summary; returns the
    parts."""
    names = part_names(args)
    parts = [
        Part(
            name,
            runs[name],
            expected_seconds(args, reference_dir, name),
            kept=bool(args.resume) and finished(args, name),
        )
        for name in names
    ]
    total = run_parts(parts, quiet=getattr(args, "quiet", False))
    results = [results_of(args, n) for n in names]
    print(summary(parts, results, total))
    command = "python main.py " + " ".join(getattr(args, "argv", []) or [])
    save_timings(parts, results, total, command, Path(args.out_dir) / TIMINGS_FILE)
    return parts


# what a whole run took, part by part: the numbers README quotes for `python main.py`
TIMINGS_FILE = "run_parts.json"


def save_timings(
    parts: List[Part], results: List[Path], total: float, command: str, path: Path
) -> Path:
    """The summary as JSON at `path`: each part's seconds (null: kept from an earlier run) and its
    results, the run's seconds in all, the command and the machine."""
    return utils.atomic_write_json(
        {
            "command": command.strip(),
            "parts": [
                {"name": p.name, "seconds": None if p.kept else p.seconds, "results": str(r)}
                for p, r in zip(parts, results)
            ],
            "seconds": total,
            "machine": {"cpus": os.cpu_count(), "torch": torch.__version__},
        },
        path,
    )
