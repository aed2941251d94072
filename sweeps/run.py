"""6.1's sweeps: every config of a sweep over several seeds, in worker processes, with the finished
runs kept so that an interrupted sweep resumes; the history of every number, saved as JSON."""

from __future__ import annotations

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
import mlp


def safe_name(text: str) -> str:
    """A file-name-safe slug: '512 -> 512' -> '512-512', 'None' stays, '0.001' stays."""
    slug = re.sub(r"[^A-Za-z0-9._]+", "-", str(text)).strip("-.")
    return slug or "none"


def config_title(label: str, config) -> str:
    """'no hidden layer, lr 0.025' or '512 -> 512, lr 0.01, Sigmoid': what a per-config plot shows.
    The activation is left out when there is no hidden layer, since nothing applies it."""
    parts = [label, f"lr {config['lr']:g}"]
    if config["hidden_dims"]:
        parts.append(str(config["activation"]))
    return ", ".join(parts)


def visualize_sweep_epochs(
    runs: Sequence[dict], out_dir: Union[str, os.PathLike], prefix: str, seed_note: str = ""
) -> List[Path]:
    """One train/dev loss plot per run of a sweep (`run_sweep`'s run dicts), all on one y-scale so
    that the configs can be compared plot against plot; returns the paths,
    `out_dir/{prefix}_{label}_loss.png`."""
    curves = {
        f"{i}{key}": run[key] for i, run in enumerate(runs) for key in ("train_loss", "dev_loss")
    }
    ylim = utils.curve_limits(curves)
    return [
        mlp.visualize_epochs(
            run["train_loss"],
            run["dev_loss"],
            Path(out_dir) / f"{prefix}_{safe_name(run['label'])}_loss.png",
            title=f"{config_title(run['label'], run['config'])}: train and dev loss{seed_note}",
            ylim=ylim,
        )
        for run in runs
    ]


RESULT_KEYS = ("train_loss", "train_acc", "dev_loss", "dev_acc", "test_loss", "test_acc")


def _sweep_job(context, job):
    """One (config, seed) run of a sweep, in a worker process: returns (run_mlp's six results,
    seconds)."""
    (dev, train_ds, test), embeddings = context
    name, label, config = job
    t0 = time.perf_counter()
    try:
        result = mlp.run_mlp(config, embeddings, dev, train_ds, test)
    except utils.TrainingDiverged as err:
        raise utils.TrainingDiverged(f"sweep {name}, {label}, seed {config.seed}: {err}") from None
    return result, time.perf_counter() - t0


def _job_key(job) -> str:
    _, label, config = job
    return f"{label} | seed {config.seed}"


def _finished_jobs(path: Path, jobs: list) -> dict:
    """The jobs of an interrupted sweep that finished, from its partial file: {key: {config, result,
    seconds}}; a job whose config has changed since is left out (it runs again)."""
    try:
        saved = json.loads(path.read_text())["jobs"]
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, KeyError, TypeError) as err:
        print(
            f"note: {path} is unreadable ({type(err).__name__}); its runs are made again",
            file=sys.stderr,
        )
        return {}
    configs = {_job_key(job): dataclasses.asdict(job[2]) for job in jobs}
    return {k: v for k, v in saved.items() if configs.get(k) == v.get("config")}


def _run_jobs(name: str, jobs: list, context, workers: int, partial: Path, resume: bool) -> list:
    """The sweep's (config, seed) jobs over `workers` processes, with one progress bar of finished
    jobs on a terminal (the latest result beside it) and one line per finished job elsewhere. Each
    finished job is kept in `partial` at once, so an interrupted sweep resumed with `resume` runs
    only the others."""
    done = _finished_jobs(partial, jobs) if resume else {}
    todo = [job for job in jobs if _job_key(job) not in done]
    bar = utils.progress(
        total=len(jobs), initial=len(jobs) - len(todo), desc=name, leave=True, unit="run"
    )
    say = (lambda line: print(line, flush=True)) if bar.disable else bar.write
    if done:
        say(
            f"[{name}] resuming: {len(done)} of {len(jobs)} runs finished before, kept in {partial}"
        )
    try:
        for job, (result, seconds) in zip(
            todo, worker_pool.fork_imap(_sweep_job, todo, workers, context)
        ):
            _, label, config = job
            done[_job_key(job)] = {
                "config": dataclasses.asdict(config),
                "result": result,
                "seconds": seconds,
            }
            utils.atomic_write_json({"sweep": name, "jobs": done}, partial)
            line = (
                f"{label} seed {config.seed}: best dev acc {max(result[3]):.4f}, "
                f"test acc {result[5]:.4f}"
            )
            say(f"[{name}] {line} ({seconds:.1f} s)")
            bar.set_postfix_str(line, refresh=False)
            bar.update(1)
    finally:
        bar.close()
    return [(done[_job_key(job)]["result"], done[_job_key(job)]["seconds"]) for job in jobs]


def sweep_workers(configs: Sequence, workers: int, name: str = "sweep") -> int:
    """How many processes train a sweep's runs: `workers` forked processes when every run trains on
    the CPU, else 1, this process, with a line that says so. A GPU run takes a second or two, so
    running them one after another costs little; and a forked worker could not use CUDA once this
    process has touched it (even `torch.cuda.is_available()` initialises the driver), nor MPS."""
    devices = {str(utils.get_device(mlp._option(c, "device", None))) for c in configs}
    if workers > 1 and devices != {"cpu"}:
        print(
            f"[{name}] runs train on {', '.join(sorted(devices))} one after another in this "
            "process "
            f"(no forked workers on a GPU)",
            flush=True,
        )
        return 1
    return workers


def plot_sweep(
    history: dict, out_dir: Union[str, os.PathLike], epoch_plot_prefix: Optional[str] = None
) -> List[Path]:
    """A sweep's plots from its history (`run_sweep`'s dict, or its JSON read back): dev accuracy
    and loss across configs, `out_dir/all_{name}_{acc,loss}.png`, and with `epoch_plot_prefix` each
    config's train and dev loss. `python main.py replot` redraws a committed sweep this way, without
    training."""
    out_dir, name, runs, seeds = Path(out_dir), history["sweep"], history["runs"], history["seeds"]
    seed_note = (
        f" (mean and range over {len(seeds)} seeds)" if len(seeds) > 1 else f" (seed {seeds[0]})"
    )
    drawn = []
    if epoch_plot_prefix:
        drawn += visualize_sweep_epochs(runs, out_dir, epoch_plot_prefix, seed_note)
    for key, metric in (("acc", "Dev accuracy"), ("loss", "Dev loss")):
        drawn.append(
            mlp.visualize_configs(
                [r[f"dev_{key}"] for r in runs],
                [r["label"] for r in runs],
                metric,
                out_dir / f"all_{name}_{key}.png",
                title=f"{name.replace('_', ' ')}: {metric.lower()}{seed_note}",
                configs=[r["config"] for r in runs],
            )
        )
    return drawn


def run_sweep(
    name: str,
    configs: Sequence[mlp.MLPConfig],
    labels: Sequence[str],
    datasets: Tuple[TensorDataset, ...],
    seeds: Sequence[int],
    out_dir: Union[str, os.PathLike],
    epoch_plot_prefix: Optional[str] = None,
    ckpt_dir: Union[str, os.PathLike, None] = None,
    embeddings=None,
    workers: Optional[int] = None,
    resume: bool = False,
) -> dict:
    """Run every config for every seed; plot and save the results; return them as a history dict.

    `datasets` is (dev, train, test). Writes `out_dir/all_{name}_acc.png` and `..._loss.png` (dev
    accuracy and loss across configs, mean and band over seeds),
    `out_dir/{epoch_plot_prefix}_{label}_loss.png` (train and dev loss) per config when
    `epoch_plot_prefix` is given, and `out_dir/{name}.json` with every per-epoch number, the test
    results, the configs and the wall times. Checkpoints go to
    `ckpt_dir/{name}_{label}_seed{seed}.pth` when `ckpt_dir` is given. The runs are independent and
    each trains on one thread, so `workers` processes (default: one per core, at most 2) train them
    side by side; every run seeds itself, so the numbers do not depend on `workers`. Runs on a GPU
    (or MPS) train one after another in this process instead (`sweep_workers`). Finished runs are
    kept in `out_dir/{name}.partial.json` until the sweep's JSON is written; `resume` reuses them (a
    run's numbers depend only on its config and seed, so a resumed sweep ends with the same
    numbers).
    """
    if len(configs) != len(labels):
        raise ValueError(f"{len(configs)} configs but {len(labels)} labels")
    if not seeds:
        raise ValueError("need at least one seed")
    out_dir = Path(out_dir)
    started = time.perf_counter()
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
    partial = out_dir / f"{name}.partial.json"
    workers = sweep_workers(configs, workers or worker_pool.default_workers(), name)
    results = iter(_run_jobs(name, jobs, (datasets, embeddings), workers, partial, resume))
    runs = []
    for config, label in zip(configs, labels):
        per_seed = {k: [] for k in (*RESULT_KEYS, "seconds")}
        for _ in seeds:
            result, seconds = next(results)
            for key, value in zip(RESULT_KEYS, result):
                per_seed[key].append(value)
            per_seed["seconds"].append(seconds)
        best_dev = [max(accs) for accs in per_seed["dev_acc"]]
        runs.append(
            {
                "label": label,
                "config": dataclasses.asdict(config),
                "seeds": list(seeds),
                **per_seed,
                "best_dev_acc": best_dev,
                "summary": utils.seed_summary(best_dev, per_seed["test_acc"]),
            }
        )
    history = {
        "sweep": name,
        "seeds": list(seeds),
        "runs": runs,
        "workers": workers,
        "sizes": dict(zip(("dev", "train", "test"), map(len, datasets))),
        "wall_seconds": time.perf_counter() - started,
    }
    plot_sweep(history, out_dir, epoch_plot_prefix)
    utils.atomic_write_json(history, out_dir / f"{name}.json")
    partial.unlink(missing_ok=True)
    return history
