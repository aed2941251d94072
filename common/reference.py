"""A run's numbers beside the committed run's (reference/), with what reproduced.

`python main.py compare` reads every JSON result in a run's folder (plots/ by default, runs/quick/
with --quick) and in reference/, pairs the numbers worth comparing and gives each a verdict:

- the sweeps of 6.1 and the sentiment rows: each config's dev and test accuracy (means over seeds);
- a language-model run: validation and test perplexity of its best checkpoint, with the continuous
  cache, with dynamic evaluation and with both, where the run scored them.

Timings, speeds, sizes and paths are not compared: they belong to the machine, not the method (the
benchmarks' files hold only such numbers, and a speed benchmark's perplexity after a time budget
depends on the machine's speed). Where the settings of a file differ (epochs, a --quick slice), the
table says which, since its numbers are then not expected to agree. Where only the seeds differ,
a sweep's or the sentiment table's means are compared over the seeds both files hold (a 3-seed
run beside the 5-seed reference: seeds 0-2 of each), or the file is "not comparable" when they
share none.

The one tolerance rule (RTOL): a number reproduced when it is within 1 % of the reference number,
|yours - reference| <= RTOL * |reference|; "identical" when it is equal. Everything here is a pure
function of the loaded JSON except `load_folder`, which reads a folder.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import NamedTuple, Optional

RTOL = 0.01  # the tolerance rule, stated once: within 1 % of the reference number
IDENTICAL, REPRODUCED, NOT_REPRODUCED = "identical", "reproduced", "NOT reproduced"
ONLY_YOURS, UNREADABLE = "not in reference", "unreadable"
NO_SHARED_SEED = "not comparable: no seed in common"
# A config's fields that name the run, its files or its machine, not what it computes.
RUN_FIELDS = {"save_path", "device", "num_threads", "print_every", "name", "eval_batch_size"}


class NothingToCompare(FileNotFoundError):
    """The run's folder holds no JSON result to compare."""


RUN_FILE_FIX = "run the command that wrote it again, or move it out of the folder"


class RunFileError(ValueError):
    """A run's JSON that cannot be read (truncated, not UTF-8) or is not the shape its command
    writes: one line naming the file (`problem`) and what to do."""

    def __init__(self, problem: str):
        super().__init__(f"{problem}; {RUN_FILE_FIX}")
        self.problem = problem


# What reading a JSON of another shape than its command writes raises: a key or an index missing, a
# value of another type, a config that refuses its values.
SHAPE_ERRORS = (AttributeError, IndexError, KeyError, TypeError, ValueError)


def read_run_json(path: Path):
    """The JSON a run wrote at `path`; RunFileError naming it when it is unreadable, not UTF-8 or
    not JSON (a truncated file)."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as err:
        raise RunFileError(f"cannot read {path} ({err.strerror})") from None
    except UnicodeDecodeError as err:
        raise RunFileError(
            f"{path} is not UTF-8 text (byte {err.object[err.start]:#04x} at {err.start})"
        ) from None
    except json.JSONDecodeError as err:
        raise RunFileError(
            f"{path} is not whole JSON ({err.msg} at line {err.lineno} column {err.colno}: "
            "truncated?)"
        ) from None


def shape_fault(path: Path, err: Exception) -> RunFileError:
    """The RunFileError for a file that reads as JSON but not as what its command writes."""
    return RunFileError(
        f"{path} is not the shape of the result its name says ({type(err).__name__}: {err})"
    )


class Row(NamedTuple):
    file: str  # the result file, relative to its folder
    number: str  # which number: "ReLU: dev acc", "test ppl, cache"
    reference: Optional[float]
    yours: Optional[float]
    verdict: str
    settings: tuple  # the settings of the file that differ from the reference's, if any


def load_folder(folder: Path) -> dict:
    """Every JSON result under `folder` (sub-folders too), by its path relative to `folder`; the
    partial results of an interrupted sweep are left out. RunFileError naming a file that is not
    JSON, or whose numbers cannot be read where its keys say they are."""
    results = {}
    for path in sorted(Path(folder).rglob("*.json")):
        if path.name.endswith(".partial.json") or not path.is_file():
            continue
        result = read_run_json(path)
        try:
            # every command writes an object
            if not isinstance(result, dict):
                raise TypeError(f"a JSON {type(result).__name__}, not an object")
            numbers_of(result), settings_of(result)
        except SHAPE_ERRORS as err:
            raise shape_fault(path, err) from err
        results[path.relative_to(folder).as_posix()] = result
    return results


def _summaries(runs: list, label_key: str = "label") -> dict:
    numbers = {}
    for run in runs:
        summary = run.get("summary") or {}
        for key, name in (("best_dev_acc_mean", "dev acc"), ("test_acc_mean", "test acc")):
            if isinstance(summary.get(key), (int, float)):
                numbers[f"{run[label_key]}: {name}"] = float(summary[key])
    return numbers


def _seed_means(runs: list, shared: list) -> dict:
    """Each run's dev and test accuracy as the mean over the seeds `shared` only, named as
    `_summaries` names them with the seeds added; a run without them all is left out."""
    numbers = {}
    seeds_text = _seeds_text(shared)
    for run in runs:
        try:
            by_seed = dict(zip(run["seeds"], zip(run["best_dev_acc"], run["test_acc"])))
        except (KeyError, TypeError):
            continue
        if all(seed in by_seed for seed in shared):
            for i, name in enumerate(("dev acc", "test acc")):
                values = [float(by_seed[seed][i]) for seed in shared]
                numbers[f"{run['label']}: {name}, {seeds_text}"] = sum(values) / len(values)
    return numbers


def _seeds_text(seeds: list) -> str:
    if len(seeds) > 2 and seeds == list(range(seeds[0], seeds[-1] + 1)):
        return f"seeds {seeds[0]}-{seeds[-1]}"
    return f"seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))}"


def _scores(numbers: dict, section: Optional[dict], keys: dict) -> None:
    for split in ("dev", "test"):
        for key, suffix in keys.items():
            value = ((section or {}).get(split) or {}).get(key)
            if isinstance(value, (int, float)):
                numbers[f"{split} ppl{suffix}"] = float(value)


def numbers_of(report, shared_seeds: Optional[list] = None) -> dict:
    """The numbers of one result file worth comparing, by name; {} for a file of timings only.
    With `shared_seeds`, a sweep's or the sentiment table's means are over those seeds only."""
    if not isinstance(report, dict):
        return {}
    if shared_seeds is not None and isinstance(report.get("runs") or report.get("rows"), list):
        course = [report["course_row"]] if isinstance(report.get("course_row"), dict) else []
        return _seed_means(course + _runs(report), shared_seeds)
    if isinstance(report.get("runs"), list):  # a sweep of 6.1
        return _summaries(report["runs"])
    if isinstance(report.get("rows"), list):  # the sentiment rows, and the course's row they cite
        course = [report["course_row"]] if isinstance(report.get("course_row"), dict) else []
        return _summaries(course + report["rows"])
    numbers: dict = {}
    if "best_checkpoint_scores" in report:  # a language-model run
        _scores(numbers, report["best_checkpoint_scores"], {"ppl": ""})
        _scores(numbers, report.get("cache"), {"cache_ppl": ", cache"})
        dynamic = report.get("dynamic")
    else:  # `python main.py dynamic` writes a dynamic evaluation alone
        dynamic = report if str(report.get("method", "")).startswith("dynamic") else None
    _scores(numbers, dynamic, {"ppl": ", dynamic", "with_cache_ppl": ", dynamic + cache"})
    return numbers


def settings_of(report) -> dict:
    """What a file's numbers depend on besides the code, by name: seeds, split sizes, and each
    config field (for a sweep, the field's value in each of its runs)."""
    if not isinstance(report, dict):
        return {}
    settings = {k: report[k] for k in ("seeds", "sizes") if k in report}
    configs = {r.get("label"): _what_it_computes(r.get("config")) for r in _runs(report)}
    for field in sorted({f for config in configs.values() for f in config}):
        settings[field] = [(label, config.get(field)) for label, config in configs.items()]
    settings.update(_what_it_computes(report.get("config")))
    return settings


def _runs(report: dict) -> list:
    """A sweep's runs or the sentiment rows: the configs whose numbers a file holds."""
    runs = report.get("runs") or report.get("rows") or []
    return [r for r in runs if isinstance(r, dict)]


def _what_it_computes(config) -> dict:
    """A config without the fields that name the run or its machine."""
    return (
        {k: v for k, v in config.items() if k not in RUN_FIELDS} if isinstance(config, dict) else {}
    )


def differing_settings(reference, yours) -> tuple:
    """The names of the settings that differ between two files, sorted."""
    a, b = settings_of(reference), settings_of(yours)
    return tuple(sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k)))


def verdict(reference: float, yours: float) -> str:
    """The tolerance rule."""
    if yours == reference:
        return IDENTICAL
    if math.isfinite(yours) and abs(yours - reference) <= RTOL * abs(reference):
        return REPRODUCED
    return NOT_REPRODUCED


def compare(reference: dict, yours: dict) -> list:
    """One Row per number of each of your files that has numbers worth comparing, file by file."""
    rows = []
    for name in sorted(yours):
        if yours[name] is None:
            rows.append(Row(name, "(the whole file)", None, None, UNREADABLE, ()))
            continue
        shared = shared_seeds(reference.get(name), yours[name])
        if shared == []:
            rows.append(Row(name, "(the whole file)", None, None, NO_SHARED_SEED, ()))
            continue
        mine = numbers_of(yours[name], shared)
        theirs = numbers_of(reference.get(name), shared)
        settings = differing_settings(reference[name], yours[name]) if name in reference else ()
        for number, value in mine.items():
            if number in theirs:
                rows.append(
                    Row(
                        name,
                        number,
                        theirs[number],
                        value,
                        verdict(theirs[number], value),
                        settings,
                    )
                )
            else:
                rows.append(Row(name, number, None, value, ONLY_YOURS, settings))
    return rows


def shared_seeds(reference, yours) -> Optional[list]:
    """Where two files of seeded runs (a sweep, the sentiment table) hold different seeds, the
    seeds they share (sorted; [] if none), on which their means are then compared seed for seed;
    None where the seeds are the same or the files hold no seeds."""
    seeds = [r.get("seeds") if isinstance(r, dict) else None for r in (reference, yours)]
    if not all(isinstance(s, list) for s in seeds) or seeds[0] == seeds[1]:
        return None
    return sorted(set(seeds[0]) & set(seeds[1]))


def not_run(reference: dict, yours: dict) -> list:
    """The reference's files with numbers worth comparing that your folder does not have."""
    return sorted(name for name in reference if name not in yours and numbers_of(reference[name]))


def _number(value: Optional[float]) -> str:
    if value is None:
        return "-"
    return f"{value:.4f}" if abs(value) < 10 else f"{value:.2f}"


def _difference(row: Row) -> str:
    if row.reference is None or row.yours is None or row.reference == 0:
        return ""
    return f"{100 * (row.yours - row.reference) / abs(row.reference):+.2f} %"


def table(rows: list, missing: list) -> str:
    """The rows as text: a heading per file, one line per number, and what came out."""
    lines = []
    width = max([len(r.number) for r in rows] + [len("number")])
    header = f"  {'number':<{width}}  {'reference':>10}  {'yours':>10}  {'difference':>10}  verdict"
    for name in dict.fromkeys(r.file for r in rows):
        mine = [r for r in rows if r.file == name]
        note = f" (settings differ: {', '.join(mine[0].settings[:4])}" if mine[0].settings else ""
        if note:
            more = len(mine[0].settings) - 4
            note += f" and {more} more)" if more > 0 else ")"
        lines += ["", f"{name}{note}", header]
        lines += [
            f"  {r.number:<{width}}  {_number(r.reference):>10}  {_number(r.yours):>10}  "
            f"{_difference(r):>10}  {r.verdict}"
            for r in mine
        ]
    counts = {v: sum(r.verdict == v for r in rows) for v in (IDENTICAL, REPRODUCED, NOT_REPRODUCED)}
    compared = sum(counts.values())
    lines += [
        "",
        f"{counts[IDENTICAL] + counts[REPRODUCED]} of {compared} numbers reproduced "
        f"({counts[IDENTICAL]} identical, {counts[REPRODUCED]} within {100 * RTOL:g} %); "
        f"{counts[NOT_REPRODUCED]} not reproduced.",
    ]
    if missing:
        lines.append(f"In the reference but not in your folder: {', '.join(missing)}.")
    return "\n".join(lines).lstrip("\n")


def report(yours_dir: Path, reference_dir: Path) -> str:
    """The comparison of the run in `yours_dir` with the one in `reference_dir`, as text."""
    yours = load_folder(yours_dir)
    if not yours:
        raise NothingToCompare(
            f"{yours_dir}: no JSON results to compare with {reference_dir}; run a command first "
            f"(for example `python main.py mlp`), or pass --out-dir DIR where a run wrote them"
        )
    reference = load_folder(reference_dir)
    return table(compare(reference, yours), not_run(reference, yours))
