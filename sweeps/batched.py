"""Many runs of the sentiment MLP trained at once: every seed, and every config of one shape, of a
sweep as one stacked model, step for step the runs that `mlp.run_mlp` makes one at a time.

A sweep's run is small (a 50 -> 512 -> 2 net at batch 64 is a few MFLOP a step), so trained alone
it spends its time in Python and kernel launches. Here the G members of a group share one model
whose every weight has a leading dimension G: a layer is one `baddbmm` over (G, B, in), the loss is
the sum of the members' mean losses (so each member's gradient is its own), and Adam's update is
torch's own (`torch.optim.adam.adam`), applied to each learning rate's slice of the stack.

Each member is what `run_mlp` makes of its config and seed, exactly: its weights are drawn by
`mlp.SentimentClassifier` after `utils.set_seed(seed)`, its batches by its own generator's
`randperm` each epoch (as `TensorBatches`), its best-dev weights saved and reloaded for the test
set. On a CPU with one thread per process the numbers are those of the separate runs, bit for bit,
at the sweeps' shapes (tests/mlp/test_batched.py checks it, and float64 step by step; some tiny
widths, such as 16, take other kernels and differ in the last bit).

Sigmoid nets also carry 6.1.3's probe (per-layer gradient norms and the state of the sigmoid
units), read every `PROBE_EVERY` steps rather than at each one."""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F

import mlp
import utils

SATURATED = 0.02  # a sigmoid output within this of 0 or 1 counts as saturated (sigma' < 0.0196)
PROBE_EVERY = 10  # steps between two readings of the probe (from each epoch's first step)
EVAL_BATCH = 4096  # the batch of run_mlp's dev and test loaders


def shape_key(config) -> tuple:
    """What the members of one stacked model must share: everything but the seed, the learning
    rate and where the checkpoint goes."""
    fields = dataclasses.asdict(config)
    for name in ("seed", "lr", "save_path"):
        fields.pop(name)
    return tuple((k, str(v)) for k, v in sorted(fields.items()))


def probed(config) -> bool:
    """Whether a run carries the probe: it reads sigmoid units, so Sigmoid nets with hidden
    layers."""
    return mlp._activation_key(config.activation) == "sigmoid" and bool(config.hidden_dims)


class _StackedLinear(torch.autograd.Function):
    """nn.Linear for G members at once: x (G, B, in), weight (G, out, in), bias (G, out) ->
    (G, B, out). Its backward makes each product as nn.Linear's own backward makes it (the weight's
    gradient as grad^T @ x, in the weight's layout), so the gradients are those of G separate
    layers, bit for bit; autograd's backward of the same baddbmm would make x^T @ grad and copy
    it transposed, which differs in the last bit for some shapes and costs a third of a deep
    net's step."""

    @staticmethod
    def forward(ctx, x, weight, bias):
        ctx.save_for_backward(x, weight)
        return stacked_linear(x, weight, bias)

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        return stacked_linear_grads(grad, x, weight, ctx.needs_input_grad[0])


def stacked_linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """_StackedLinear's forward kernel: x (G, B, in), weight (G, out, in), bias (G, out) ->
    (G, B, out). Apart from the autograd Function so that benchmarks/sweep_floor.py times the very
    kernels a step runs."""
    return torch.baddbmm(bias.unsqueeze(1), x, weight.transpose(1, 2))


def stacked_linear_grads(
    grad: torch.Tensor, x: torch.Tensor, weight: torch.Tensor, input_grad: bool
) -> tuple:
    """_StackedLinear's backward kernels, from grad (G, B, out): the gradients of x (G, B, in; None
    when `input_grad` is false, as for the first layer), of the weight (G, out, in) and of the
    bias (G, out)."""
    grad_x = torch.bmm(grad, weight) if input_grad else None
    return grad_x, torch.bmm(grad.transpose(1, 2), x), grad.sum(1)


class StackedMLP:
    """G `mlp.SentimentClassifier`s of one shape as stacked weights: `weights[i]` (G, out, in) and
    `biases[i]` (G, out) for layer i, each member initialised as run_mlp initialises its model."""

    def __init__(self, configs: Sequence, embed_dim: int, device: torch.device):
        first = configs[0]
        self.activation = mlp.make_activation(first.activation)
        members = []
        self.generators = []  # each member's data order, as run_mlp's TensorBatches draws it
        for config in configs:
            self.generators.append(utils.set_seed(int(config.seed)))
            members.append(
                mlp.SentimentClassifier(
                    embed_dim, first.num_classes, first.hidden_dims, first.activation
                )
            )
        layers = len(members[0].linears)
        self.weights = [
            torch.stack([m.linears[i].weight.detach() for m in members]).to(device)
            for i in range(layers)
        ]
        self.biases = [
            torch.stack([m.linears[i].bias.detach() for m in members]).to(device)
            for i in range(layers)
        ]
        for p in self.parameters():
            p.requires_grad_(True)

    def parameters(self) -> List[torch.Tensor]:
        """In the order of a member's state_dict: weight, bias of layer 0, then layer 1, ..."""
        return [p for pair in zip(self.weights, self.biases) for p in pair]

    def forward(self, x: torch.Tensor, hidden: Optional[list] = None) -> torch.Tensor:
        """x (G, B, D) -> logits (G, B, C); appends each hidden layer's output (G, B, H) to
        `hidden` when one is given."""
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            x = _StackedLinear.apply(x, w, b)  # (G, B, out)
            if i < last:
                x = self.activation(x)
                if hidden is not None:
                    hidden.append(x.detach())
        return x

    def state_dict(self, g: int) -> Dict[str, torch.Tensor]:
        """Member g's weights as SentimentClassifier's state_dict (copies, not views)."""
        state = {}
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            state[f"linears.{i}.weight"] = w[g].detach().clone()
            state[f"linears.{i}.bias"] = b[g].detach().clone()
        return state


def member_losses(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Each member's mean cross-entropy, to differentiate: logits (G, B, C), labels (G, B) -> (G,).
    Its gradients are the separate runs' bit for bit; its values may differ from theirs in the
    last bit (cross_entropy's own mean sums in another order), so `reported_losses` gives those."""
    g, b, c = logits.shape
    losses = F.cross_entropy(logits.reshape(g * b, c), labels.reshape(g * b), reduction="none")
    return losses.view(g, b).mean(1)


def reported_losses(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Each member's mean cross-entropy as run_mlp reports it (one cross_entropy per member, so the
    numbers are the separate runs' exactly): (G,), without gradients."""
    with torch.no_grad():
        return torch.stack([F.cross_entropy(x, y) for x, y in zip(logits, labels)])


class StackedAdam:
    """torch's Adam (the course's optimizer, at its defaults) on the stacked weights, with the same
    operations in the same order as `torch.optim.Adam` makes on a CPU (its single-tensor path), so
    each member moves exactly as its own optimizer would move it; each learning rate's members are
    a contiguous slice. Written out rather than called (`torch.optim.adam.adam`) to reuse one
    buffer for the denominator: a fresh one each step cost a deep net a fifth of its step."""

    BETA1, BETA2, EPS = 0.9, 0.999, 1e-8  # torch.optim.Adam's defaults, as run_mlp uses them

    def __init__(self, params: List[torch.Tensor], lrs: Sequence[float]):
        self.params = params
        self.exp_avgs = [torch.zeros_like(p) for p in params]
        self.exp_avg_sqs = [torch.zeros_like(p) for p in params]
        self.denoms = [torch.empty_like(p) for p in params]
        self.step_count = 0
        # (lr, start, end) of each run of equal learning rates
        self.slices = []
        start = 0
        for end in range(1, len(lrs) + 1):
            if end == len(lrs) or lrs[end] != lrs[start]:
                self.slices.append((float(lrs[start]), start, end))
                start = end

    @torch.no_grad()
    def step(self) -> None:
        self.step_count += 1
        # torch keeps the count as a float tensor and reads it back as a Python float
        step = float(self.step_count)
        bias_correction1 = 1 - self.BETA1**step
        bias_correction2_sqrt = (1 - self.BETA2**step) ** 0.5
        for param, exp_avg, exp_avg_sq, denom in zip(
            self.params, self.exp_avgs, self.exp_avg_sqs, self.denoms
        ):
            grad = param.grad
            exp_avg.lerp_(grad, 1 - self.BETA1)
            exp_avg_sq.mul_(self.BETA2).addcmul_(grad, grad, value=1 - self.BETA2)
            torch.sqrt(exp_avg_sq, out=denom)
            denom.div_(bias_correction2_sqrt).add_(self.EPS)
            for lr, a, b in self.slices:
                param[a:b].addcdiv_(exp_avg[a:b], denom[a:b], value=-(lr / bias_correction1))

    @torch.no_grad()
    def step_over_lr(self, param: torch.Tensor) -> torch.Tensor:
        """|the last step| / lr, averaged over each member's entries of `param` (one of `params`):
        (G,). Adam's step is lr * m_hat / (sqrt(v_hat) + eps), so this is 1 when every entry moved
        by the learning rate, as at step 1, whatever the gradient's size."""
        i = next(k for k, p in enumerate(self.params) if p is param)
        m_hat = self.exp_avgs[i] / (1 - self.BETA1 ** float(self.step_count))
        return (m_hat.abs() / self.denoms[i]).mean(tuple(range(1, param.dim())))


class _Probe:
    """6.1.3's observers for the members of a stacked Sigmoid model, read every PROBE_EVERY steps:
    for each hidden layer the share of saturated units, the mean derivative a(1 - a) and the spread
    of each unit across the batch; each layer's weight-gradient norm and Adam's move of its weights
    over the learning rate (`StackedAdam.step_over_lr`). Per member: the epoch's
    averages (`epochs`) and, in the first epoch, every reading (`early`)."""

    KEYS = ("saturated", "derivative", "unit_spread", "grad_norm", "adam_step")

    def __init__(self, members: int):
        self.members = members
        self.readings: List[Dict[str, torch.Tensor]] = []
        self.epochs: List[List[dict]] = [[] for _ in range(members)]
        self.early: List[List[dict]] = [[] for _ in range(members)]

    def read(self, hidden: List[torch.Tensor], optimizer: StackedAdam, step: int, epoch: int):
        """Read after the step: `hidden` from its forward pass, the gradients it took, and the
        size of its move of each weight over the learning rate (`StackedAdam.step_over_lr`)."""
        weights = optimizer.params[::2]
        reading = {
            "saturated": torch.stack(
                [((a < SATURATED) | (a > 1 - SATURATED)).float().mean((1, 2)) for a in hidden], 1
            ),
            "derivative": torch.stack([(a * (1 - a)).mean((1, 2)) for a in hidden], 1),
            "unit_spread": torch.stack([a.std(dim=1).mean(-1) for a in hidden], 1),
            "grad_norm": torch.stack(
                [torch.linalg.vector_norm(w.grad, dim=(1, 2)) for w in weights], 1
            ),
            "adam_step": torch.stack([optimizer.step_over_lr(w) for w in weights], 1),
        }  # each (G, layers)
        reading = {k: v.double().cpu() for k, v in reading.items()}
        self.readings.append(reading)
        if epoch == 0:
            for g in range(self.members):
                row = {k: reading[k][g].tolist() for k in self.KEYS}
                self.early[g].append({"step": step + 1, **row})

    def close_epoch(self) -> None:
        means = {k: torch.stack([r[k] for r in self.readings]).mean(0) for k in self.KEYS}
        for g in range(self.members):
            self.epochs[g].append({k: means[k][g].tolist() for k in self.KEYS})
        self.readings = []


def _evaluate(model: StackedMLP, dataset, device) -> tuple:
    """Each member's (mean loss per example, accuracy) over `dataset` in run_mlp's batches of
    EVAL_BATCH: two lists of G numbers."""
    x_all, y_all = (t.to(device) for t in dataset.tensors)
    members = model.weights[0].shape[0]
    loss_sum = torch.zeros(members, device=device)
    correct = torch.zeros(members, device=device)
    with torch.no_grad():
        for start in range(0, len(y_all), EVAL_BATCH):
            x, y = x_all[start : start + EVAL_BATCH], y_all[start : start + EVAL_BATCH]
            logits = model.forward(x.expand(members, *x.shape))  # (G, B, C)
            labels = y.expand(members, *y.shape)
            loss_sum += reported_losses(logits, labels) * len(y)
            correct += (logits.argmax(-1) == labels).float().sum(1)
    count = len(y_all)
    return [v / count for v in loss_sum.tolist()], [v / count for v in correct.tolist()]


@dataclasses.dataclass
class GroupResult:
    """One member's run: run_mlp's six results, its share of the group's seconds, and the probe's
    records (None for a net without sigmoid units)."""

    result: tuple
    seconds: float
    probe: Optional[dict] = None


def train_group(configs: Sequence, datasets: tuple) -> List[GroupResult]:
    """Train the configs (one shape, `shape_key`; sorted so that equal learning rates are
    adjacent) at once, as `mlp.run_mlp` trains each: returns one GroupResult per config, in order.

    `datasets` is (dev, train, test) TensorDatasets. A member's best-dev weights go to its
    `save_path` when it has one (atomically, as run_mlp saves them). A member whose training loss
    becomes NaN or infinite raises utils.TrainingDiverged, as run_mlp would."""
    started = time.perf_counter()
    first = configs[0]
    if any(shape_key(c) != shape_key(first) for c in configs):
        raise ValueError("a stacked group needs configs of one shape (shape_key)")
    device = utils.get_device(first.device)
    dev, train, test = datasets
    embed_dim = int(train.tensors[0].shape[1])
    with utils.torch_threads(mlp.CPU_THREADS if device.type == "cpu" else None):
        model = StackedMLP(configs, embed_dim, device)
        history = _fit(model, configs, (dev, train), device)
        for g, state in enumerate(history["best"]):
            for i in range(len(model.weights)):
                model.weights[i].data[g] = state[f"linears.{i}.weight"]
                model.biases[i].data[g] = state[f"linears.{i}.bias"]
        test_loss, test_acc = _evaluate(model, test, device)
    seconds = (time.perf_counter() - started) / len(configs)
    probe = history["probe"]
    return [
        GroupResult(
            (*[h[g] for h in history["curves"]], test_loss[g], test_acc[g]),
            seconds,
            None
            if probe is None
            else {
                "epochs": probe.epochs[g],
                "early": probe.early[g],
                "dev_acc": history["curves"][3][g],
                "dev_loss": history["curves"][2][g],
            },
        )
        for g in range(len(configs))
    ]


def _fit(model: StackedMLP, configs: Sequence, splits: tuple, device) -> dict:
    """mlp.train for every member at once: per epoch, each member's shuffled batches, its train
    loss and accuracy, its dev loss and accuracy; its best-dev weights kept (and saved)."""
    dev, train = splits
    x_all, y_all = (t.to(device) for t in train.tensors)
    members, n, batch = len(configs), len(y_all), configs[0].batch_size
    optimizer = StackedAdam(model.parameters(), [c.lr for c in configs])
    probe = _Probe(members) if probed(configs[0]) else None
    curves = [[[] for _ in range(members)] for _ in range(4)]  # train loss/acc, dev loss/acc
    best_acc = [-1.0] * members
    best: List[Optional[dict]] = [None] * members
    for epoch in range(configs[0].num_epochs):
        orders = torch.stack([torch.randperm(n, generator=g) for g in model.generators]).to(device)
        loss_sum = torch.zeros(members, device=device)
        correct = torch.zeros(members, device=device)
        for step, start in enumerate(range(0, n, batch)):
            idx = orders[:, start : start + batch]  # (G, B)
            x, y = x_all[idx], y_all[idx]  # (G, B, D), (G, B)
            for p in model.parameters():
                p.grad = None
            hidden = [] if probe is not None and step % PROBE_EVERY == 0 else None
            logits = model.forward(x, hidden)  # (G, B, C)
            losses = member_losses(logits, y)  # (G,)
            losses.sum().backward()
            optimizer.step()
            if hidden is not None:
                probe.read(hidden, optimizer, step, epoch)
            loss_sum += reported_losses(logits.detach(), y) * idx.shape[1]
            correct += (logits.detach().argmax(-1) == y).float().sum(1)
        if probe is not None:
            probe.close_epoch()
        train_loss = [v / n for v in loss_sum.tolist()]
        for g, loss in enumerate(train_loss):
            if not math.isfinite(loss):
                raise utils.TrainingDiverged(
                    f"the training loss became {loss} in epoch {epoch + 1} (lr "
                    f"{configs[g].lr:g}); lower the learning rate"
                )
        dev_loss, dev_acc = _evaluate(model, dev, device)
        per_epoch = (train_loss, [v / n for v in correct.tolist()], dev_loss, dev_acc)
        for curve, values in zip(curves, per_epoch):
            for g, value in enumerate(values):
                curve[g].append(value)
        for g, acc in enumerate(dev_acc):
            if acc > best_acc[g]:
                best_acc[g], best[g] = acc, model.state_dict(g)
                if configs[g].save_path:
                    utils.atomic_save(best[g], configs[g].save_path)
    return {"curves": curves, "best": best, "probe": probe}


def member_cost(config, embed_dim: int) -> int:
    """Multiply-adds per training example of one member: how groups are balanced over workers."""
    widths = [embed_dim, *config.hidden_dims, config.num_classes]
    return int(np.sum([a * b for a, b in zip(widths[:-1], widths[1:])]))


def plan_groups(configs: Sequence, workers: int, embed_dim: int) -> List[List[int]]:
    """The indices of `configs` in stacked groups: configs of one shape together, sorted by learning
    rate; a shape's group is cut (between members) so that no group holds more than half a
    worker's share of the work, and the groups come largest first, so that workers taking the next
    group as they free up end close together."""
    by_shape: Dict[tuple, List[int]] = {}
    for i, config in enumerate(configs):
        by_shape.setdefault(shape_key(config), []).append(i)
    total = sum(member_cost(c, embed_dim) for c in configs)
    limit = total / (2 * max(1, workers))
    groups = []
    for members in by_shape.values():
        members = sorted(members, key=lambda i: (configs[i].lr, i))
        group, cost = [], 0
        for i in members:
            if group and cost + member_cost(configs[i], embed_dim) > limit:
                groups.append(group)
                group, cost = [], 0
            group.append(i)
            cost += member_cost(configs[i], embed_dim)
        groups.append(group)
    return sorted(groups, key=lambda g: -sum(member_cost(configs[i], embed_dim) for i in g))
