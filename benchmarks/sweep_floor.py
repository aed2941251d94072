"""Benchmark of how fast the six sweeps of 6.1 could train on this machine while each run stays the
float32 computation of `mlp.run_mlp`: per member-step of each shape, the stacked linear layers'
own kernels alone (`sweeps/batched.stacked_linear` and `stacked_linear_grads`: the products and
bias sums of the forward and backward pass), Adam's update alone (`batched.StackedAdam`), and an
epoch as the sweeps train it (`batched.train_group`, dev's evaluation included), timed in every
worker process at once; each scaled to the distinct runs of the six sweeps at their epochs and
shared among the workers.

    python -m benchmarks.sweep_floor [--data-dir DIR] [--steps 300] [--repeats 3]
                                     [--out plots/benchmark_sweep_floor.json]

The kernels and Adam are the arithmetic every run must do; what a step spends besides them
(activations, the loss, gathering the batch, the probe, evaluating dev each epoch) is the
difference between their sum and the trained epoch."""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import statistics
import time
from pathlib import Path
from typing import Callable, Dict

import torch

import mlp
import utils
from benchmarks.machine import machine_record
from benchmarks.sweep_speed import course_datasets, sweep_plan
from common import worker_pool
from sweeps import batched
from sweeps.definitions import SEEDS, SWEEPS

SWEEP_EPOCHS = 20
PARTS = ("kernels", "adam", "trained")
LARGE_PRODUCT = 2048  # the side of the product that gives the machine's own matmul rate


def steps_per_run(examples: int, batch_size: int, epochs: int) -> int:
    """The optimizer steps of one run: every epoch walks the training set in batches, the last one
    short."""
    return epochs * math.ceil(examples / batch_size)


def layer_kernels(inputs: list, grads: list, weights: list) -> None:
    """The stacked linear layers' kernels of one training step: each layer's forward product and
    its backward products and bias sum, from its input (G, B, in), the gradient of its output
    (G, B, out) and its (weight (G, out, in), bias (G, out)); the first layer's input needs no
    gradient, as in training."""
    for i, (x, grad, (weight, bias)) in enumerate(zip(inputs, grads, weights)):
        batched.stacked_linear(x, weight, bias)
        batched.stacked_linear_grads(grad, x, weight, input_grad=i > 0)


def kernel_flops(widths: list, batch_size: int) -> int:
    """Floating-point operations of one member's `layer_kernels`: per layer 2 * B * in * out for
    the forward product and for the weight's gradient, and again for the input's gradient in
    every layer but the first."""
    layers = list(zip(widths[:-1], widths[1:]))
    return sum((2 if i == 0 else 3) * 2 * batch_size * a * b for i, (a, b) in enumerate(layers))


def large_product_gflops(_context, size: int) -> float:
    """The rate of one (size, size) @ (size, size) float32 product on the worker's one thread."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    with utils.torch_threads(mlp.CPU_THREADS):
        seconds = min(_seconds_per_call(lambda: a @ b, 3) for _ in range(3))
    return 2 * size**3 / seconds / 1e9


def _seconds_per_call(fn: Callable, calls: int) -> float:
    fn()  # the first call allocates what the others reuse
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def member_step_seconds(datasets: tuple, job: tuple) -> Dict[str, float]:
    """Seconds per member-step of `job` = (configs of one shape, steps, repeats), medians of the
    repeats: the layers' kernels and Adam on `steps` steps of random tensors of the step's shapes,
    and an epoch of `train_group` on the training set of `datasets` (dev, train, test), with its
    evaluation of dev."""
    configs, steps, repeats = job
    train = datasets[1]
    members, batch = len(configs), configs[0].batch_size
    embed_dim = int(train.tensors[0].shape[1])
    model = batched.StackedMLP(configs, embed_dim, torch.device("cpu"))
    widths = [embed_dim, *configs[0].hidden_dims, configs[0].num_classes]
    gen = torch.Generator().manual_seed(0)
    inputs = [torch.randn(members, batch, w, generator=gen) for w in widths[:-1]]  # (G, B, in)
    grads = [torch.randn(members, batch, w, generator=gen) for w in widths[1:]]  # (G, B, out)
    weights = [(w.detach(), b.detach()) for w, b in zip(model.weights, model.biases)]

    def kernels():
        layer_kernels(inputs, grads, weights)

    optimizer = batched.StackedAdam(model.parameters(), [c.lr for c in configs])
    for p in model.parameters():
        p.grad = 1e-3 * torch.randn(p.shape, generator=gen)
    epoch_steps = steps_per_run(len(train), batch, 1)

    def trained(epochs: int) -> float:
        start = time.perf_counter()
        batched.train_group(
            [dataclasses.replace(c, num_epochs=epochs, save_path=None) for c in configs], datasets
        )
        return time.perf_counter() - start

    seconds = {"kernels": [], "adam": [], "trained": []}
    with utils.torch_threads(mlp.CPU_THREADS):
        for _ in range(repeats):
            seconds["kernels"].append(_seconds_per_call(kernels, steps) / members)
            seconds["adam"].append(_seconds_per_call(optimizer.step, steps) / members)
            # two epochs less one: an epoch's steps and its dev evaluation, without what a run
            # does once (building the members, the test set's evaluation)
            epoch = trained(2) - trained(1)
            seconds["trained"].append(epoch / (epoch_steps * members))
    return {part: statistics.median(values) for part, values in seconds.items()}


def sweep_floor(
    datasets: tuple,
    *,
    steps: int,
    repeats: int,
    members: int,
    workers: int,
    large_product: int = LARGE_PRODUCT,
) -> dict:
    """Each shape of the six sweeps timed in all `workers` at once (`member_step_seconds`), and
    the seconds each part would take over the sweeps' distinct runs at SWEEP_EPOCHS, shared among
    the workers."""
    plan = sweep_plan(SWEEP_EPOCHS)["distinct"]
    shapes = {}
    for make in SWEEPS.values():
        for config in make(SWEEP_EPOCHS).configs:
            shapes.setdefault(batched.shape_key(config), config)
    examples = len(datasets[1])
    embed_dim = int(datasets[1].tensors[0].shape[1])
    large = worker_pool.fork_map(large_product_gflops, [large_product] * workers, workers)
    rows = []
    for key, config in shapes.items():
        configs = [dataclasses.replace(config, seed=s) for s in range(members)]
        # every worker times the same group at the same time, as the sweeps keep both busy
        per_worker = worker_pool.fork_map(
            member_step_seconds, [(configs, steps, repeats)] * workers, workers, datasets
        )
        run_steps = steps_per_run(examples, config.batch_size, config.num_epochs)
        names = " -> ".join(map(str, config.hidden_dims)) or "no hidden layer"
        widths = [embed_dim, *config.hidden_dims, config.num_classes]
        row = {
            "label": f"{names}, {config.activation}, batch {config.batch_size}",
            "distinct_runs": plan[key],
            "steps_per_run": run_steps,
            "ms_per_member_step": {},
            "six_sweeps_seconds": {},
        }
        for part in PARTS:
            per_step = statistics.median(w[part] for w in per_worker)
            row["ms_per_member_step"][part] = 1e3 * per_step
            row["six_sweeps_seconds"][part] = per_step * run_steps * plan[key] / workers
        row["kernel_gflops"] = (
            kernel_flops(widths, config.batch_size) / row["ms_per_member_step"]["kernels"] / 1e6
        )
        rows.append(row)
        print(
            f"{row['label']}: {row['distinct_runs']} runs of {run_steps} steps; ms per "
            "member-step: "
            + ", ".join(f"{p} {row['ms_per_member_step'][p]:.3f}" for p in PARTS)
            + f"; kernels at {row['kernel_gflops']:.0f} GFLOP/s",
            flush=True,
        )
    totals = {p: sum(r["six_sweeps_seconds"][p] for r in rows) for p in PARTS}
    return {
        "steps": steps,
        "repeats": repeats,
        "members": members,
        "workers": workers,
        "epochs": SWEEP_EPOCHS,
        "train_examples": examples,
        "large_product_gflops": statistics.median(large),
        "shapes": rows,
        "six_sweeps_runs": sum(r["distinct_runs"] for r in rows),
        "six_sweeps_seconds": {
            "kernels": totals["kernels"],
            "kernels_and_adam": totals["kernels"] + totals["adam"],
            "trained": totals["trained"],
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--members", type=int, default=SEEDS, help="the members of a timed group")
    parser.add_argument("--out", type=Path, default=Path("plots") / "benchmark_sweep_floor.json")
    args = parser.parse_args()
    for name in ("steps", "repeats", "members"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1, not {getattr(args, name)}")
    load_start = os.getloadavg()
    result = sweep_floor(
        course_datasets(args.data_dir),
        steps=args.steps,
        repeats=args.repeats,
        members=args.members,
        workers=worker_pool.default_workers(),
    )
    result = {
        "command": "python -m benchmarks.sweep_floor "
        f"--steps {args.steps} --repeats {args.repeats} --members {args.members}",
        **result,
        "machine": machine_record(load_start),
    }
    seconds = result["six_sweeps_seconds"]
    print(
        f"six sweeps, {result['six_sweeps_runs']} distinct runs on {result['workers']} workers: "
        f"the layers' kernels alone {seconds['kernels']:.0f} s, with Adam "
        f"{seconds['kernels_and_adam']:.0f} s, as trained {seconds['trained']:.0f} s; one "
        f"large product runs at {result['large_product_gflops']:.0f} GFLOP/s a worker"
    )
    utils.atomic_write_json(result, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
