"""6.1's sweeps: every config of a sweep over several seeds, in worker processes, with the finished
runs kept so that an interrupted sweep resumes; the history of every number, saved as JSON.

A sweep is data (`Sweep`: configs and their labels); how it runs is a second object (`SweepRun`:
seeds, folders, device, workers, resume). main.py defines the sweeps and draws their plots."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import sys
import time
from pathlib import Path
from typing import List, Optional, Sequence, Tuple, Union

from torch.utils.data import TensorDataset

import utils
from common import worker_pool
from common.reference import SHAPE_ERRORS, RunFileError, read_run_json, shape_fault
import mlp
from sweeps import batched


@dataclasses.dataclass
class Sweep:
    """One experiment of section 6.1: configs with their plot labels, and what to plot."""

    # file stem: plots/all_{name}_acc.png, plots/{name}.json
    name: str
    configs: List[mlp.MLPConfig]
    labels: List[str]
    # per-config train/dev loss plots, {prefix}_{label}_loss.png, as the course draws them
    epoch_plot_prefix: Optional[str] = None
    # trained with sweeps/probe.py's observers: its JSON, no plots
    probe: bool = False


@dataclasses.dataclass
class SweepRun:
    """How a sweep runs: its seeds; where its JSON (and partial file) and checkpoints go; the
    device of every run (None: each config's own); worker processes (None: `default_workers`);
    whether the runs an interrupted sweep finished are kept (`resume`); and the runs made so far by
    this command's sweeps (`made`, filled as they run: a run asked for again is taken from it, as
    its numbers depend only on its config and seed)."""

    seeds: Sequence[int] = (0,)
    out_dir: Union[str, os.PathLike] = "plots"
    ckpt_dir: Union[str, os.PathLike, None] = None
    device: Optional[str] = None
    workers: Optional[int] = None
    resume: bool = False
    made: Optional[dict] = None


def sweep_configs(sweep: Sweep, run: SweepRun, embeddings=None) -> List[mlp.MLPConfig]:
    """The sweep's configs as they run: on `run.device` when it is given, and naming the vectors
    that `glove.load_glove` loaded (their `name`), so that each run's saved config says both."""
    configs = list(sweep.configs)
    if run.device:
        configs = [dataclasses.replace(c, device=run.device) for c in configs]
    if getattr(embeddings, "name", None):
        configs = [dataclasses.replace(c, embeddings=embeddings.name) for c in configs]
    return configs


def safe_name(text: str) -> str:
    """A file-name-safe slug: '512 -> 512' -> '512-512', 'None' stays, '0.001' stays."""
    slug = re.sub(r"[^A-Za-z0-9._]+", "-", str(text)).strip("-.")
    return slug or "none"


RESULT_KEYS = ("train_loss", "train_acc", "dev_loss", "dev_acc", "test_loss", "test_acc")


def _group_job(context, group):
    """One stacked group of a sweep's (config, seed) runs (sweeps/batched.py), in a worker process:
    a `batched.GroupResult` per run."""
    (dev, train_ds, test), _ = context
    try:
        return batched.train_group([config for _, _, config in group], (dev, train_ds, test))
    except utils.TrainingDiverged as err:
        name, label, config = group[getattr(err, "member", 0)]
        raise utils.TrainingDiverged(f"sweep {name}, {label}, seed {config.seed}: {err}") from None


def _job_key(job) -> str:
    _, label, config = job
    return f"{label} | seed {config.seed}"


def run_key(config) -> str:
    """What makes two runs the same run, whichever sweep asks for it: the config (with its seed)
    but where its checkpoint goes."""
    return json.dumps({**dataclasses.asdict(config), "save_path": None}, sort_keys=True)


def _finished_jobs(path: Path, jobs: list) -> dict:
    """The jobs of an interrupted sweep that finished, from its partial file: {key: {config, result,
    seconds}}; a job whose config has changed since is left out (it runs again)."""
    if not path.is_file():
        return {}
    configs = {_job_key(job): dataclasses.asdict(job[2]) for job in jobs}
    try:
        saved = read_run_json(path)["jobs"]
        return {k: v for k, v in saved.items() if configs.get(k) == v.get("config")}
    except (RunFileError, *SHAPE_ERRORS) as err:
        # what a resume can do without it: make its runs again (the note says so, once)
        why = err if isinstance(err, RunFileError) else shape_fault(path, err)
        print(f"note: {why.problem}; its runs are made again", file=sys.stderr)
        return {}


def _reuse(job, made: dict) -> Optional[dict]:
    """The record of a run an earlier sweep of this command made with the same config and seed,
    its checkpoint copied to this run's path; None if there is none."""
    _, _, config = job
    record = made.get(run_key(config))
    if record is None or (batched.probed(config) and record.get("probe") is None):
        return None
    if config.save_path and record.get("save_path"):
        utils.atomic_copy(record["save_path"], config.save_path)
    return {**record, "config": dataclasses.asdict(config), "save_path": config.save_path}


def _run_jobs(name: str, jobs: list, context, workers: int, partial: Path, run: "SweepRun") -> list:
    """The sweep's (config, seed) jobs, trained in stacked groups (`batched.plan_groups`) over
    `workers` processes, with one progress bar of finished runs on a terminal (the latest result
    beside it) and one line per finished run elsewhere. Each finished run is kept in `partial` at
    once, so an interrupted sweep resumed with `run.resume` runs only the others; a run an earlier
    sweep of this command made (`run.made`) is taken from it."""
    done = _finished_jobs(partial, jobs) if run.resume else {}
    made = run.made if run.made is not None else {}
    resumed = len(done)
    for job in jobs:
        key = _job_key(job)
        if key not in done and (record := _reuse(job, made)) is not None:
            done[key] = record
    todo = [job for job in jobs if _job_key(job) not in done]
    bar = utils.progress(
        total=len(jobs), initial=len(jobs) - len(todo), desc=name, leave=True, unit="run"
    )
    say = (lambda line: print(line, flush=True)) if bar.disable else bar.write
    if resumed:
        say(f"[{name}] resuming: {resumed} of {len(jobs)} runs finished before, kept in {partial}")
    if len(done) > resumed:
        say(f"[{name}] {len(done) - resumed} run(s) taken from an earlier sweep of this command")
    groups = [
        [todo[i] for i in group]
        for group in batched.plan_groups(
            [job[2] for job in todo], workers, int(context[0][1].tensors[0].shape[1])
        )
    ]
    results = worker_pool.fork_imap(_group_job, groups, workers, context)
    # Closed here, not by the garbage collector once the loop has stopped: a Ctrl-C while the pool
    # shuts down must reach the caller, where the collector's close would print it and go on.
    try:
        with contextlib.closing(results):
            for group, group_results in zip(groups, results):
                for job, member in zip(group, group_results):
                    _, label, config = job
                    done[_job_key(job)] = record = {
                        "config": dataclasses.asdict(config),
                        "result": member.result,
                        "seconds": member.seconds,
                        "probe": member.probe,
                        "save_path": config.save_path,
                    }
                    made[run_key(config)] = record
                    result = member.result
                    line = (
                        f"{label} seed {config.seed}: best dev acc {max(result[3]):.4f}, "
                        f"test acc {result[5]:.4f}"
                    )
                    say(f"[{name}] {line} ({member.seconds:.1f} s)")
                    bar.set_postfix_str(line, refresh=False)
                    bar.update(1)
                utils.atomic_write_json({"sweep": name, "jobs": done}, partial)
    finally:
        bar.close()
    return [done[_job_key(job)] for job in jobs]


def sweep_workers(configs: Sequence, workers: int, name: str = "sweep") -> int:
    """How many processes train a sweep's runs: `workers` forked processes when every run trains on
    the CPU, else 1, this process, with a line that says so. A GPU run takes a second or two, so
    running them one after another costs little; and a forked worker could not use CUDA once this
    process has touched it (even `torch.cuda.is_available()` initialises the driver), nor MPS."""
    devices = {str(utils.get_device(getattr(c, "device", None))) for c in configs}
    if workers > 1 and devices != {"cpu"}:
        print(
            f"[{name}] runs train on {', '.join(sorted(devices))} one after another in this "
            "process (no forked workers on a GPU)",
            flush=True,
        )
        return 1
    return workers


def make_runs(sweep: Sweep, datasets: Tuple[TensorDataset, ...], run: SweepRun, embeddings=None):
    """Every (config, seed) run of `sweep` (see `run_sweep`): returns (configs, {label: the records
    of its seeds, in order}, workers). A probe sweep saves no checkpoints."""
    name, labels, seeds = sweep.name, sweep.labels, run.seeds
    configs = sweep_configs(sweep, run, embeddings)
    if len(configs) != len(labels):
        raise ValueError(f"{len(configs)} configs but {len(labels)} labels")
    if not seeds:
        raise ValueError("need at least one seed")
    ckpt_dir = None if sweep.probe else run.ckpt_dir
    jobs = [
        (
            name,
            label,
            dataclasses.replace(
                config,
                seed=seed,
                save_path=(
                    str(Path(ckpt_dir) / f"{name}_{safe_name(label)}_seed{seed}.pth")
                    if ckpt_dir
                    else None
                ),
            ),
        )
        for config, label in zip(configs, labels)
        for seed in seeds
    ]
    partial = Path(run.out_dir) / f"{name}.partial.json"
    workers = sweep_workers(configs, run.workers or worker_pool.default_workers(), name)
    records = iter(_run_jobs(name, jobs, (datasets, embeddings), workers, partial, run))
    return configs, {label: [next(records) for _ in seeds] for label in labels}, workers


def run_sweep(
    sweep: Sweep, datasets: Tuple[TensorDataset, ...], run: SweepRun, embeddings=None
) -> dict:
    """Run every config of `sweep` for every seed of `run`; save the results and return them as a
    history dict (main.py draws its plots from it).

    `datasets` is (dev, train, test). Writes `out_dir/{name}.json` with every per-epoch number, the
    test results, the configs and the wall times. Checkpoints go to
    `ckpt_dir/{name}_{label}_seed{seed}.pth` when `run.ckpt_dir` is given. The runs of one shape
    train together as one stacked model (sweeps/batched.py), with the numbers of the separate runs;
    the groups are shared among `run.workers` processes (default: one per core, at most 2), each on
    one thread. Runs on a GPU (or MPS) train in this process instead (`sweep_workers`).
    Finished runs are kept in `out_dir/{name}.partial.json` until the sweep's JSON is written;
    `run.resume` reuses them (a run's numbers depend only on its config and seed, so a resumed sweep
    ends with the same numbers), as `run.made` gives those an earlier sweep made.
    """
    started = time.perf_counter()
    configs, records, workers = make_runs(sweep, datasets, run, embeddings)
    runs = []
    for config, label in zip(configs, sweep.labels):
        per_seed = {k: [] for k in (*RESULT_KEYS, "seconds")}
        for record in records[label]:
            for key, value in zip(RESULT_KEYS, record["result"]):
                per_seed[key].append(value)
            per_seed["seconds"].append(record["seconds"])
        best_dev = [max(accs) for accs in per_seed["dev_acc"]]
        runs.append(
            {
                "label": label,
                "config": dataclasses.asdict(config),
                "seeds": list(run.seeds),
                **per_seed,
                "best_dev_acc": best_dev,
                "summary": utils.seed_summary(best_dev, per_seed["test_acc"]),
            }
        )
    history = {
        "sweep": sweep.name,
        "seeds": list(run.seeds),
        "runs": runs,
        "workers": workers,
        "sizes": dict(zip(("dev", "train", "test"), map(len, datasets))),
        "wall_seconds": time.perf_counter() - started,
    }
    out_dir = Path(run.out_dir)
    utils.atomic_write_json(history, out_dir / f"{sweep.name}.json")
    (out_dir / f"{sweep.name}.partial.json").unlink(missing_ok=True)
    return history
