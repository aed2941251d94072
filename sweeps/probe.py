"""Inside the sentiment MLP while it trains (6.1.3's "why"): per-layer gradient norms and the state
of the sigmoid units, step by step, for configs of a sweep.

Each run trains exactly as a sweep's run does (`mlp.run_mlp`'s model, Adam, batches and seed,
through `mlp.train` itself), so its dev accuracies are the sweep's, run for run; only two observers
are added:

- a forward hook on the activation module (one module, applied after every hidden layer) that
  records, in training mode, for each hidden layer the share of *saturated* units (sigmoid output
  below `SATURATED` or above 1 - `SATURATED`, where the derivative sigma' = a(1 - a) is below 0.02,
  under 8 % of its peak 1/4), the mean derivative sigma', and the spread of each unit's output
  across the batch (its standard deviation over the examples, averaged over the units: 0 when the
  layer's output no longer depends on the review);
- an optimizer wrapper that, before each Adam step, records the gradient norm of every layer's
  weight.

`probe_sweep` writes `{out_dir}/{name}.json`: for each config and seed, these numbers averaged over
each epoch (`epochs`) and, for the first epoch, every `EARLY_EVERY` steps (`early`), with the run's
dev accuracy per epoch. Nothing here runs at import time; mlp.py's course API is untouched."""

from __future__ import annotations

import dataclasses
import os
import tempfile
import time
from pathlib import Path
from typing import Tuple

import numpy as np
import torch

import mlp
import utils
from common import worker_pool
from common.batches import TensorBatches
from sweeps.run import Sweep, SweepRun, sweep_configs, sweep_workers

SATURATED = 0.02  # a sigmoid output within this of 0 or 1 counts as saturated (sigma' < 0.0196)
EARLY_EVERY = 10  # first epoch: one record every this many steps


class _Recorder:
    """Per-step numbers of one run: hidden-layer statistics from the forward hook, gradient norms
    from the optimizer wrapper; `close_epoch` averages the steps of the epoch."""

    def __init__(self, model: mlp.SentimentClassifier):
        self.model = model
        self.hidden = len(model.linears) - 1
        self.calls = 0
        self.step_rows: list[dict] = []
        self.current: dict = {}
        self.epochs: list[dict] = []
        self.early: list[dict] = []
        self.steps_in_epoch = 0
        self.epoch = 0
        model.register_forward_pre_hook(self._start_forward)
        model.activation.register_forward_hook(self._after_activation)

    def _start_forward(self, module, inputs):
        self.calls = 0
        self.current = {"saturated": [], "derivative": [], "unit_spread": []}

    def _after_activation(self, module, inputs, output):
        if not self.model.training:
            return
        a = output.detach()
        self.current["saturated"].append(
            float(((a < SATURATED) | (a > 1 - SATURATED)).float().mean())
        )
        self.current["derivative"].append(float((a * (1 - a)).mean()))
        self.current["unit_spread"].append(float(a.std(dim=0).mean()) if len(a) > 1 else 0.0)
        self.calls += 1

    def before_step(self):
        row = dict(self.current)
        row["grad_norm"] = [
            float(lin.weight.grad.norm()) if lin.weight.grad is not None else 0.0
            for lin in self.model.linears
        ]
        self.step_rows.append(row)
        if self.epoch == 0 and self.steps_in_epoch % EARLY_EVERY == 0:
            self.early.append({"step": self.steps_in_epoch + 1, **row})
        self.steps_in_epoch += 1

    def close_epoch(self):
        keys = ("saturated", "derivative", "unit_spread", "grad_norm")
        self.epochs.append(
            {k: np.mean([r[k] for r in self.step_rows], axis=0).tolist() for k in keys}
        )
        self.step_rows, self.steps_in_epoch = [], 0
        self.epoch += 1


class _RecordingOptimizer:
    """The optimizer as mlp.train uses it (zero_grad, step, param_groups), with `before_step` called
    first."""

    def __init__(self, optimizer: torch.optim.Optimizer, recorder: _Recorder):
        self._optimizer, self._recorder = optimizer, recorder

    def step(self, closure=None):
        self._recorder.before_step()
        return self._optimizer.step(closure)

    def __getattr__(self, name):
        return getattr(self._optimizer, name)


class _EpochEnd:
    """The dev loader, which mlp.train iterates once after each epoch's steps: the place to close
    it."""

    def __init__(self, loader, recorder: _Recorder):
        self.loader, self.recorder = loader, recorder

    def __iter__(self):
        self.recorder.close_epoch()
        return iter(self.loader)

    def __len__(self):
        return len(self.loader)


def probe_run(config: mlp.MLPConfig, datasets: Tuple, embed_dim: int) -> dict:
    """Train one config as `mlp.run_mlp` does (same seed, model, Adam, batches) with the observers
    on."""
    if str(config.activation).lower() != "sigmoid" or not config.hidden_dims:
        raise ValueError(
            "the probe reads sigmoid units: give it Sigmoid configs with hidden layers"
        )
    dev, train, _ = datasets
    device = utils.get_device(config.device)
    generator = utils.set_seed(int(config.seed))
    model = mlp.SentimentClassifier(
        embed_dim, config.num_classes, config.hidden_dims, config.activation
    ).to(device)
    recorder = _Recorder(model)
    optimizer = _RecordingOptimizer(torch.optim.Adam(model.parameters(), lr=config.lr), recorder)
    train_loader = TensorBatches(
        train, config.batch_size, shuffle=True, generator=generator, device=device
    )
    dev_loader = _EpochEnd(TensorBatches(dev, 4096, shuffle=False, device=device), recorder)
    with tempfile.TemporaryDirectory() as scratch:
        _, _, dev_loss, dev_acc = mlp.train(
            model,
            optimizer,
            train_loader,
            dev_loader,
            config.num_epochs,
            os.path.join(scratch, "best.pth"),
        )
    return {
        "epochs": recorder.epochs,
        "early": recorder.early,
        "dev_acc": dev_acc,
        "dev_loss": dev_loss,
    }


def _probe_job(context, job):
    datasets, embed_dim = context
    label, config = job
    t0 = time.perf_counter()
    return probe_run(config, datasets, embed_dim), time.perf_counter() - t0


def probe_sweep(sweep: Sweep, datasets: Tuple, run: SweepRun, embeddings=None) -> dict:
    """Every config of `sweep` for every seed of `run` with the observers on;
    `{run.out_dir}/{name}.json` holds, per config, the per-seed records (see the module's
    docstring)."""
    name, labels, seeds = sweep.name, sweep.labels, run.seeds
    configs = sweep_configs(sweep, run, embeddings)
    embed_dim = int(datasets[1].tensors[0].shape[1])
    jobs = [(lab, dataclasses.replace(c, seed=s)) for c, lab in zip(configs, labels) for s in seeds]
    workers = sweep_workers(configs, run.workers or worker_pool.default_workers(), name)
    started = time.perf_counter()
    results = iter(worker_pool.fork_map(_probe_job, jobs, workers, (datasets, embed_dim)))
    runs = []
    for config, label in zip(configs, labels):
        per_seed = [next(results) for _ in seeds]
        runs.append(
            {
                "label": label,
                "config": dataclasses.asdict(config),
                "seeds": list(seeds),
                "probe": [r for r, _ in per_seed],
                "seconds": [s for _, s in per_seed],
            }
        )
        print(f"[{name}] {label}: {len(seeds)} seed(s) probed", flush=True)
    history = {
        "sweep": name,
        "seeds": list(seeds),
        "saturated_below": SATURATED,
        "early_every_steps": EARLY_EVERY,
        "runs": runs,
        "wall_seconds": time.perf_counter() - started,
    }
    utils.atomic_write_json(history, Path(run.out_dir) / f"{name}.json")
    return history
