"""The language model's optimisers and learning-rate schedules: the course's Adam with
ExponentialLR(decay), stepped every batch, or ours (`LMRunConfig.optimizer`, `.schedule`):
fused AdamW (nplm/kernels.make_adamw), a linear warmup, then a cosine to 5 % of the learning rate
(Loshchilov and Hutter 2017), a linear decay to 0, or a constant."""

from __future__ import annotations

import math

import torch

from nplm.kernels import make_adamw

SCHEDULES = ("exponential", "cosine", "linear", "constant")


def make_optimizer(model, config, total_steps):
    """(optimizer, scheduler) of `config` for a run of `total_steps` steps."""
    if config.optimizer == "adam":
        optimizer = torch.optim.Adam(
            model.parameters(), lr=config.lr, weight_decay=config.weight_decay
        )
    else:
        optimizer = make_adamw(model, config.lr, config.weight_decay)
    if config.schedule == "exponential":
        return optimizer, torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=config.decay)
    warmup, schedule = config.warmup_steps, config.schedule

    def factor(step):
        if step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, total_steps - warmup))
        if schedule == "cosine":
            return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress))
        return max(0.0, 1.0 - progress) if schedule == "linear" else 1.0

    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
