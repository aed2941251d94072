"""Our weight average for the language model: an exponential moving average of the parameters
(Polyak and Juditsky 1992), updated after every training step; mlp_lm.train scores and saves it when
`ema_decay` > 0."""

from __future__ import annotations

import contextlib

import torch
import torch.nn as nn


class WeightAverage:
    """An exponential moving average of the parameters, updated every step.

    The first steps use the smaller decay (1 + t) / (10 + t), so the average does not stay anchored
    at the random initialisation. `applied()` swaps the average into the model and puts the trained
    weights back.
    """

    def __init__(self, model: nn.Module, decay: float):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"ema_decay must be in (0, 1), got {decay}")
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.shadow = [p.detach().clone() for p in self.params]
        self.decay, self.steps = decay, 0

    @torch.no_grad()
    def update(self) -> None:
        self.steps += 1
        weight = 1.0 - min(self.decay, (1 + self.steps) / (10 + self.steps))
        for avg, p in zip(self.shadow, self.params):
            avg.lerp_(p, weight)

    def state_dict(self) -> dict:
        return {"shadow": self.shadow, "steps": self.steps}

    def load_state_dict(self, state: dict) -> None:
        with torch.no_grad():
            for avg, saved in zip(self.shadow, state["shadow"]):
                avg.copy_(saved)
        self.steps = state["steps"]

    @contextlib.contextmanager
    def applied(self):
        with torch.no_grad():
            trained = [p.detach().clone() for p in self.params]
            for p, avg in zip(self.params, self.shadow):
                p.copy_(avg)
        try:
            yield
        finally:
            with torch.no_grad():
                for p, w in zip(self.params, trained):
                    p.copy_(w)


def applied(average):
    """`average.applied()`, or a context that changes nothing when there is no average."""
    return average.applied() if average is not None else contextlib.nullcontext()
