"""The six sweeps of section 6.1, as data: the handout's three (6.1.3 structures, 6.1.4 activations,
6.1.5 learning rates) and the controls that 6.1.3's and 6.1.4's answers rest on. Each function
gives a `Sweep` (configs and their labels) for a number of epochs; main.py's explore_* run them."""

from __future__ import annotations

from typing import List

from mlp import ACTIVATION_NAMES, MLPConfig
from sweeps.run import Sweep

# the seeds of every config in the runs that reference/ holds and the documents quote
SEEDS = 5
LEARNING_RATES = [0.0001, 0.001, 0.005, 0.02, 0.05, 0.1]
TANH_LEARNING_RATES = [0.001, 0.002, 0.005, 0.01]


def _configs(cells, num_epochs: int, **fixed) -> List[MLPConfig]:
    """One MLPConfig per cell (a dict of the fields that vary), with the fields all cells share."""
    return [MLPConfig(**cell, **fixed, num_epochs=num_epochs) for cell in cells]


def _depth_lr_labels(cells) -> List[str]:
    return [f"{' -> '.join(map(str, c['hidden_dims']))}, lr {c['lr']:g}" for c in cells]


def structure_sweep(num_epochs: int = 20) -> Sweep:
    """6.1.3: depth, with the course's learning rate for each depth (Sigmoid, batch 64)."""
    dims = [[], [512], [512, 512], [512, 512, 512]]
    cells = [dict(hidden_dims=d, lr=lr) for d, lr in zip(dims, [0.025, 0.02, 0.01, 0.001])]
    return Sweep(
        "mlp_structures",
        _configs(cells, num_epochs, activation="Sigmoid", batch_size=64),
        [" -> ".join(map(str, d)) or "no hidden layer" for d in dims],
        epoch_plot_prefix="mlp_structure",
    )


def activation_sweep(num_epochs: int = 20) -> Sweep:
    """6.1.4: activation functions, one hidden layer of 512, lr 0.02, batch 128."""
    cells = [dict(activation=a) for a in ACTIVATION_NAMES]
    return Sweep(
        "mlp_activations",
        _configs(cells, num_epochs, hidden_dims=[512], lr=0.02, batch_size=128),
        list(ACTIVATION_NAMES),
        epoch_plot_prefix="mlp_activation",
    )


def learning_rate_sweep(num_epochs: int = 20) -> Sweep:
    """6.1.5: learning rates from 1e-4 to 1e-1, one hidden layer of 512, Sigmoid, batch 64."""
    cells = [dict(lr=lr) for lr in LEARNING_RATES]
    return Sweep(
        "mlp_learning_rates",
        _configs(cells, num_epochs, hidden_dims=[512], activation="Sigmoid", batch_size=64),
        [f"lr={lr:g}" for lr in LEARNING_RATES],
        epoch_plot_prefix="mlp_learning_rate",
    )


def depth_vs_lr_sweep(num_epochs: int = 20) -> Sweep:
    """6.1.3's control: one, two and three hidden layers, each at 0.02 and 0.001 (the one- and
    three-layer nets' course learning rates; Sigmoid, batch 64), so that depth and learning rate are
    told apart."""
    depths = ([512], [512, 512], [512, 512, 512])
    cells = [dict(hidden_dims=d, lr=lr) for d in depths for lr in (0.02, 0.001)]
    return Sweep(
        "mlp_depth_vs_lr",
        _configs(cells, num_epochs, activation="Sigmoid", batch_size=64),
        _depth_lr_labels(cells),
    )


def tanh_lr_sweep(num_epochs: int = 20) -> Sweep:
    """6.1.4's control: Tanh at smaller learning rates than the sweep's 0.02 (tanh' peaks at 1, four
    times sigmoid's 1/4), one hidden layer of 512, batch 128, as in the activations sweep."""
    cells = [dict(lr=lr) for lr in TANH_LEARNING_RATES]
    return Sweep(
        "mlp_tanh_lr",
        _configs(cells, num_epochs, hidden_dims=[512], activation="Tanh", batch_size=128),
        [f"Tanh, lr {lr:g}" for lr in TANH_LEARNING_RATES],
    )


def depth_probe_sweep(num_epochs: int = 20) -> Sweep:
    """6.1.3's "why": one, two and three sigmoid layers at 0.02, and one and three at 0.001, trained
    with sweeps/probe.py's observers (per-layer gradient norms, saturated units) on."""
    shapes = [([512], 0.02), ([512], 0.001), ([512, 512], 0.02)]
    shapes += [([512, 512, 512], 0.02), ([512, 512, 512], 0.001)]
    cells = [dict(hidden_dims=d, lr=lr) for d, lr in shapes]
    return Sweep(
        "mlp_depth_probe",
        _configs(cells, num_epochs, activation="Sigmoid", batch_size=64),
        _depth_lr_labels(cells),
        probe=True,
    )


SWEEPS = {
    "structures": structure_sweep,
    "activations": activation_sweep,
    "learning_rates": learning_rate_sweep,
    "depth_vs_lr": depth_vs_lr_sweep,
    "tanh_lr": tanh_lr_sweep,
    "depth_probe": depth_probe_sweep,
}
SWEEPS_BY_NAME = {sweep().name: sweep for sweep in SWEEPS.values()}
