"""Inside the sentiment MLP while it trains (6.1.3's "why"): per-layer gradient norms and the state
of the sigmoid units, read on a schedule of steps, for the configs of a sweep.

Every Sigmoid net that a sweep trains carries these observers (sweeps/batched.py's `_Probe`; they
read the training, they do not change it), so the probe's runs are the sweep runs of the same
config and seed, dev accuracies and all. Every `batched.PROBE_EVERY` steps of each epoch it
records:

- for each hidden layer, the share of *saturated* units (sigmoid output within
  `batched.SATURATED` of 0 or 1, where the derivative sigma' = a(1 - a) is under 8 % of its peak
  1/4), the mean derivative sigma', and the spread of each unit's output across the batch (its
  standard deviation over the examples, averaged over the units: 0 when the layer's output no
  longer depends on the review);
- the gradient norm of every layer's weight, the gradient Adam's step took;
- how far that step moved the layer's weights, over the learning rate (|step| / lr, averaged over
  the weights): Adam divides the gradient by its running size, so a tiny gradient need not mean a
  tiny step.

`probe_sweep` writes `{out_dir}/{name}.json`: for each config and seed, these readings averaged
over each epoch (`epochs`) and, for the first epoch, each reading (`early`), with the run's dev
accuracy per epoch."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Tuple

import utils
from sweeps import batched
from sweeps.run import Sweep, SweepRun, make_runs


def probe_sweep(sweep: Sweep, datasets: Tuple, run: SweepRun, embeddings=None) -> dict:
    """Every config of `sweep` for every seed of `run` with the observers on;
    `{run.out_dir}/{name}.json` holds, per config, the per-seed records (see the module's
    docstring)."""
    bad = [lab for c, lab in zip(sweep.configs, sweep.labels) if not batched.probed(c)]
    if bad:
        raise ValueError(
            f"the probe reads sigmoid units: {', '.join(bad)} is not a Sigmoid net with hidden "
            "layers"
        )
    started = time.perf_counter()
    configs, records, _ = make_runs(sweep, datasets, run, embeddings)
    runs = []
    for config, label in zip(configs, sweep.labels):
        runs.append(
            {
                "label": label,
                "config": dataclasses.asdict(config),
                "seeds": list(run.seeds),
                "probe": [r["probe"] for r in records[label]],
                "seconds": [r["seconds"] for r in records[label]],
            }
        )
        print(f"[{sweep.name}] {label}: {len(run.seeds)} seed(s) probed", flush=True)
    history = {
        "sweep": sweep.name,
        "seeds": list(run.seeds),
        "saturated_below": batched.SATURATED,
        "early_every_steps": batched.PROBE_EVERY,
        "runs": runs,
        "wall_seconds": time.perf_counter() - started,
    }
    utils.atomic_write_json(history, Path(run.out_dir) / f"{sweep.name}.json")
    (Path(run.out_dir) / f"{sweep.name}.partial.json").unlink(missing_ok=True)
    return history
