"""Benchmark of the sweeps' training: each shape of 6.1's sweeps trained one config-seed at a time
(`mlp.run_mlp` in worker processes, as the sweeps trained before) and as stacked groups
(sweeps/batched.py, as they train now), side by side in one process, on the course's IMDB
features; and the plan of the six sweeps, with and without the runs they share.

    python -m benchmarks.sweep_speed [--data-dir DIR] [--epochs 2] [--repeats 3]
                                     [--out plots/benchmark_sweeps.json]

For each shape (hidden widths, activation, batch size): the seconds per config-seed, median over
`--repeats` of the wall time of its seeds (`--seeds`, on the default workers) divided by their
number, both ways, their ratio, and whether both ways gave the same numbers. Then the six
sweeps' runs by shape, before (each sweep its own runs) and after (a run that several sweeps ask
for trains once), and the seconds each would take at the measured rates, scaled to 20 epochs."""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import time
from collections import Counter
from pathlib import Path

import mlp
import utils
from benchmarks.machine import machine_record
from common import glove, worker_pool
from sweeps import batched
from sweeps.definitions import SEEDS, SWEEPS
from sweeps.run import run_key

SWEEP_EPOCHS = 20


def _separate(context, config):
    dev, train, test = context
    return mlp.run_mlp(config, None, dev, train, test)


def _grouped(context, configs):
    return [m.result for m in batched.train_group(configs, context)]


def _time_both(config: mlp.MLPConfig, datasets, seeds, workers: int) -> dict:
    """One shape's seeds trained both ways: seconds per config-seed, and whether the numbers
    agree."""
    configs = [dataclasses.replace(config, seed=s) for s in seeds]
    t0 = time.perf_counter()
    separate = worker_pool.fork_map(_separate, configs, workers, datasets)
    t1 = time.perf_counter()
    plan = batched.plan_groups(configs, workers, int(datasets[1].tensors[0].shape[1]))
    grouped_parts = worker_pool.fork_map(
        _grouped, [[configs[i] for i in g] for g in plan], workers, datasets
    )
    t2 = time.perf_counter()
    grouped = [None] * len(configs)
    for group, results in zip(plan, grouped_parts):
        for i, result in zip(group, results):
            grouped[i] = result
    return {
        "separate": (t1 - t0) / len(configs),
        "grouped": (t2 - t1) / len(configs),
        "same_numbers": [tuple(a) for a in separate] == [tuple(b) for b in grouped],
    }


def course_datasets(data_dir) -> tuple:
    """The course's (dev, train, test) IMDB splits as averaged GloVe vectors, what the sweeps train
    on."""
    embeddings = glove.load_glove(data_dir=data_dir)
    return tuple(mlp.create_tensor_datasets(list(mlp.load_data_mlp(data_dir=data_dir)), embeddings))


def sweep_plan(epochs: int) -> dict:
    """The six sweeps' config-seed runs by shape (at `epochs`): all of them, and the distinct
    ones."""
    every, distinct = Counter(), {}
    for make in SWEEPS.values():
        for config in make(epochs).configs:
            for seed in range(SEEDS):
                run = dataclasses.replace(config, seed=seed)
                every[batched.shape_key(run)] += 1
                distinct[run_key(run)] = batched.shape_key(run)
    return {"every": every, "distinct": Counter(distinct.values())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--seeds", type=int, default=SEEDS)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("plots") / "benchmark_sweeps.json")
    args = parser.parse_args()
    load_start = os.getloadavg()
    datasets = course_datasets(args.data_dir)
    workers = worker_pool.default_workers()
    plan = sweep_plan(args.epochs)
    shapes = {}
    for make in SWEEPS.values():
        for config in make(args.epochs).configs:
            shapes.setdefault(batched.shape_key(config), config)
    rows = []
    for key, config in shapes.items():
        runs = [
            _time_both(config, datasets, range(args.seeds), workers) for _ in range(args.repeats)
        ]
        widths = " -> ".join(map(str, config.hidden_dims)) or "no hidden layer"
        row = {
            "label": f"{widths}, {config.activation}, batch {config.batch_size}",
            "hidden_dims": config.hidden_dims,
            "activation": config.activation,
            "batch_size": config.batch_size,
            "seconds_per_config_seed_separate": statistics.median(r["separate"] for r in runs),
            "seconds_per_config_seed_grouped": statistics.median(r["grouped"] for r in runs),
            "all_separate": [r["separate"] for r in runs],
            "all_grouped": [r["grouped"] for r in runs],
            "same_numbers": all(r["same_numbers"] for r in runs),
            "runs_in_six_sweeps": plan["every"][key],
            "distinct_runs": plan["distinct"][key],
        }
        row["ratio_separate_vs_grouped"] = (
            row["seconds_per_config_seed_separate"] / row["seconds_per_config_seed_grouped"]
        )
        rows.append(row)
        print(
            f"{config.hidden_dims} {config.activation} batch {config.batch_size}: "
            f"{row['seconds_per_config_seed_separate']:.2f} s separate, "
            f"{row['seconds_per_config_seed_grouped']:.2f} s grouped per config-seed "
            f"({row['ratio_separate_vs_grouped']:.2f}x), same numbers: {row['same_numbers']}",
            flush=True,
        )
    scale = SWEEP_EPOCHS / args.epochs
    before = scale * sum(
        r["seconds_per_config_seed_separate"] * r["runs_in_six_sweeps"] for r in rows
    )
    after = scale * sum(r["seconds_per_config_seed_grouped"] * r["distinct_runs"] for r in rows)
    result = {
        "command": "python -m benchmarks.sweep_speed "
        f"--epochs {args.epochs} --seeds {args.seeds} --repeats {args.repeats}",
        "epochs": args.epochs,
        "seeds": args.seeds,
        "workers": workers,
        "shapes": rows,
        "six_sweeps_runs_before": sum(plan["every"].values()),
        "six_sweeps_runs_after": sum(plan["distinct"].values()),
        "six_sweeps_seconds_estimated_before": before,
        "six_sweeps_seconds_estimated_after": after,
        "ratio_before_vs_after": before / after,
        "machine": machine_record(load_start),
    }
    print(
        f"six sweeps at {SWEEP_EPOCHS} epochs: {result['six_sweeps_runs_before']} runs, about "
        f"{before:.0f} s before; {result['six_sweeps_runs_after']} runs, about {after:.0f} s "
        f"after ({before / after:.1f}x)"
    )
    utils.atomic_write_json(result, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
