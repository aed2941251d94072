"""benchmarks/sweep_floor.py, on tiny data (no shared data): the operations it counts against
torch's profiler, the steps it scales by against a run's optimizer steps, and its sums over the
six sweeps' distinct runs."""

from __future__ import annotations

import math

import torch
from torch.profiler import ProfilerActivity, profile
from torch.utils.data import TensorDataset

from benchmarks import sweep_floor
from sweeps import batched
from sweeps.definitions import SEEDS, SWEEPS


def _datasets(sizes=(40, 100, 30), dim=50):
    gen = torch.Generator().manual_seed(3)
    return tuple(
        TensorDataset(torch.randn(n, dim, generator=gen), torch.randint(0, 2, (n,), generator=gen))
        for n in sizes
    )


def test_kernel_flops_is_what_the_profiler_counts_in_the_layer_kernels():
    widths, batch, members = [50, 64, 32, 2], 16, 3
    gen = torch.Generator().manual_seed(0)
    inputs = [torch.randn(members, batch, w, generator=gen) for w in widths[:-1]]
    grads = [torch.randn(members, batch, w, generator=gen) for w in widths[1:]]
    weights = [
        (torch.randn(members, b, a, generator=gen), torch.randn(members, b, generator=gen))
        for a, b in zip(widths[:-1], widths[1:])
    ]
    with profile(activities=[ProfilerActivity.CPU], with_flops=True) as prof:
        sweep_floor.layer_kernels(inputs, grads, weights)
    counted = sum(event.flops for event in prof.key_averages())
    assert counted == members * sweep_floor.kernel_flops(widths, batch)


def test_steps_per_run_is_the_number_of_optimizer_steps_a_run_takes(monkeypatch):
    import mlp

    steps = []
    step = batched.StackedAdam.step
    monkeypatch.setattr(batched.StackedAdam, "step", lambda self: steps.append(1) or step(self))
    config = mlp.MLPConfig(hidden_dims=[8], num_epochs=3, batch_size=32, lr=0.01)
    batched.train_group([config], _datasets())
    assert len(steps) == sweep_floor.steps_per_run(100, 32, 3) == 3 * 4  # the 4th batch is short


def test_the_floor_scales_each_shape_of_the_sweeps_to_its_distinct_runs():
    out = sweep_floor.sweep_floor(
        _datasets(), steps=1, repeats=1, members=2, workers=2, large_product=64
    )
    distinct = {
        (batched.shape_key(config), config.lr, seed)
        for make in SWEEPS.values()
        for config in make(sweep_floor.SWEEP_EPOCHS).configs
        for seed in range(SEEDS)
    }
    assert out["six_sweeps_runs"] == len(distinct) == sum(r["distinct_runs"] for r in out["shapes"])
    assert len(out["shapes"]) == len({key for key, _, _ in distinct})
    for row in out["shapes"]:
        batch = int(row["label"].rsplit("batch ", 1)[1])
        assert row["steps_per_run"] == sweep_floor.SWEEP_EPOCHS * math.ceil(100 / batch)
        for part in sweep_floor.PARTS:
            want = row["ms_per_member_step"][part] / 1e3 * row["steps_per_run"]
            runs_per_worker = row["distinct_runs"] / 2
            assert math.isclose(row["six_sweeps_seconds"][part], want * runs_per_worker)
    totals = out["six_sweeps_seconds"]
    for part in ("kernels", "trained"):
        assert math.isclose(totals[part], sum(r["six_sweeps_seconds"][part] for r in out["shapes"]))
    adam = sum(r["six_sweeps_seconds"]["adam"] for r in out["shapes"])
    assert math.isclose(totals["kernels_and_adam"], totals["kernels"] + adam)
