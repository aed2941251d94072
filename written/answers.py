"""The written part of homework 3 (sections 1-5), made executable.

Every answer stated in hw3.md is computed here by a small function that returns the numbers it
found, so that `tests/written/test_written.py` can assert on them and `python main.py written`
(main.cmd_written) can print them.  The references are torch autograd in float64
(micrograd-style: compare the hand-derived closed form with an independent engine) or a direct
computation (grid search, training a tiny network with a real optimiser).

Conventions (shapes are written as in the handout):
  X is (n x d) with rows x_i^T, W is (k x d), w is (d x 1).  A column vector (m x 1) carries one
  index, so the Jacobian of an output indexed by I with respect to an input indexed by J has
  shape I + J ("numerator layout": row r of a matrix Jacobian is the gradient of output r).  This
  is also the layout of `torch.autograd.functional.jacobian` once the trailing singleton column
  dimensions are dropped.

Importing this module has no side effects: no seeding, plotting, argument parsing or I/O.
Randomness is drawn from explicit `torch.Generator`s; where torch offers no generator argument
(nn.Dropout) the global RNG is forked (`torch.random.fork_rng`) so the caller's state is untouched.

Sources: CS231n notes "Neural Networks Part 1/2" (activations, zero-centring, dropout, symmetry
breaking, gradient checks); Goodfellow, Bengio & Courville, *Deep Learning* (2016), sec. 6.1
(XOR) and 8.4 (initialisation); He et al. 2016, "Deep Residual Learning" (identity shortcuts);
Srivastava et al. 2014, "Dropout" (inverted scaling); Hendrycks & Gimpel 2016, "GELUs".
"""

from __future__ import annotations

import functools
import math
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from mlp import make_activation

DTYPE = torch.float64

# The four XOR points and their labels, (4 x 2) and (4,).
XOR_X = ((0.0, 0.0), (0.0, 1.0), (1.0, 0.0), (1.0, 1.0))
XOR_Y = (0.0, 1.0, 1.0, 0.0)

# Lower bounds that hold for ANY model y = g(u . x) with g monotone (the MSE one: hw3.md, 4.4, step
# 2): on the XOR points its largest absolute error is >= 1/2 and its mean squared error is >= 1/6.
XOR_MONOTONE_MAX_ERR_BOUND = 0.5
XOR_MONOTONE_MSE_BOUND = 1.0 / 6.0


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def xor_data() -> tuple[torch.Tensor, torch.Tensor]:
    """The XOR data set: X (4 x 2) and y (4,), float64."""
    return torch.tensor(XOR_X, dtype=DTYPE), torch.tensor(XOR_Y, dtype=DTYPE)


# ============================================================================ 1. concepts
# mlp.py's activation table, the package's one: each module computes what torch.sigmoid, torch.tanh,
# torch.relu and F.gelu (exact) compute.
ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    name: make_activation(name) for name in ("sigmoid", "tanh", "relu", "gelu")
}


def _mlp(d_in: int, d_hidden: int, d_out: int, activation: str) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(d_in, d_hidden), make_activation(activation), nn.Linear(d_hidden, d_out)
    ).to(DTYPE)


def _constant_init_(model: nn.Module, value: float) -> None:
    for p in model.parameters():
        nn.init.constant_(p, value)


def _random_init_(model: nn.Module, seed: int) -> None:
    g = _gen(seed)
    for p in model.parameters():
        with torch.no_grad():
            p.copy_(torch.randn(p.shape, generator=g, dtype=DTYPE) * 0.5)


def hidden_unit_spread(model: nn.Sequential) -> float:
    """Largest difference between any hidden unit's parameters and unit 0's.

    A hidden unit j owns row j of W1, entry j of b1 and column j of W2; the spread is 0 exactly
    when all hidden units are copies of each other.
    """
    lin1, lin2 = model[0], model[2]
    w1, b1, w2 = lin1.weight.detach(), lin1.bias.detach(), lin2.weight.detach()
    return max(
        (w1 - w1[:1]).abs().max().item(),
        (b1 - b1[:1]).abs().max().item(),
        (w2 - w2[:, :1]).abs().max().item(),
    )


@contextmanager
def _one_thread():
    """These tensors are tiny: intra-op threads only add contention (10x slower on a busy 2-core
    machine), so run on one thread and restore the caller's setting afterwards."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


# Differentiable losses l(y_hat, y) for Q4.3, whose claim holds for any of them.
LOSSES: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "mse": F.mse_loss,
    "bce_with_logits": F.binary_cross_entropy_with_logits,
    "huber": F.huber_loss,
    "log_cosh": lambda y_hat, y: torch.log(torch.cosh(y_hat - y)).mean(),
}


class SGD(NamedTuple):
    """How `_train` trains: full-batch steps of torch.optim.SGD on LOSSES[loss]."""

    steps: int
    lr: float
    momentum: float = 0.0
    loss: str = "mse"


def _train(model: nn.Module, X: torch.Tensor, y: torch.Tensor, sgd: SGD):
    """Full-batch training with torch.optim.SGD on LOSSES[sgd.loss] (the mean squared error by
    default); returns the loss history (sgd.steps + 1 values: before each step, and after the
    last)."""
    steps, lr, momentum, loss = sgd
    loss_fn = LOSSES[loss]
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    losses = []
    with _one_thread():
        for _ in range(steps):
            opt.zero_grad()
            value = loss_fn(model(X).squeeze(-1), y)
            value.backward()
            opt.step()
            losses.append(value.item())
        with torch.no_grad():
            losses.append(loss_fn(model(X).squeeze(-1), y).item())
    return losses


def constant_init_mlp_symmetry(
    activation: str = "sigmoid", value: float = 0.0, steps: int = 60, hidden: int = 4, seed: int = 0
) -> dict:
    """Q1.1, Q1.6 (initialisation): an MLP (3 -> hidden -> 1) with every parameter set to `value`,
    trained with SGD + momentum on a random regression task.

    Returns the spread between hidden units (0 = all identical) before and after training, how far
    W1 moved, the first and last loss, and the spread reached from a random init for contrast.
    """
    g = _gen(seed)
    X = torch.randn(32, 3, generator=g, dtype=DTYPE)
    # any target that needs distinct units
    y = torch.sin(X @ torch.tensor([1.0, -2.0, 0.5], dtype=DTYPE))
    model = _mlp(3, hidden, 1, activation)
    _constant_init_(model, value)
    w1_before = model[0].weight.detach().clone()
    spread_before = hidden_unit_spread(model)
    losses = _train(model, X, y, SGD(steps, lr=0.1, momentum=0.9))
    contrast = _mlp(3, hidden, 1, activation)
    _random_init_(contrast, seed + 1)
    _train(contrast, X, y, SGD(steps, lr=0.1, momentum=0.9))
    return {
        "activation": activation,
        "value": value,
        "steps": steps,
        "spread_before": spread_before,
        "spread_after": hidden_unit_spread(model),
        "w1_moved": (model[0].weight.detach() - w1_before).abs().max().item(),
        "loss_first": losses[0],
        "loss_last": losses[-1],
        "random_init_spread_after": hidden_unit_spread(contrast),
    }


def dropout_demo(p: float = 0.5, width: int = 1000, samples: int = 2000, seed: int = 0) -> dict:
    """Q1.5 (dropout): nn.Dropout is random in train() mode and the identity in eval() mode, and
    inverted dropout (keep with prob 1-p, scale by 1/(1-p)) keeps E[output] = input.

    Returns: whether two train-mode passes differ, whether two eval-mode passes agree and equal the
    input, the fraction of zeros in train mode (about p), the mean over `samples` train-mode passes
    of dropout(ones(width)) (about 1), and that of un-scaled dropout (about 1-p) for contrast.
    """
    drop = nn.Dropout(p)
    x = torch.ones(width, dtype=DTYPE)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        drop.train()
        a, b = drop(x), drop(x)
        many = torch.stack([drop(x) for _ in range(samples)])
    drop.eval()
    c, d = drop(x), drop(x)
    return {
        "p": p,
        "train_outputs_differ": bool((a != b).any()),
        "train_zero_fraction": (a == 0).double().mean().item(),
        "train_kept_value": a[a != 0][0].item(),  # 1/(1-p)
        "eval_outputs_equal": bool(torch.equal(c, d)),
        "eval_is_identity": bool(torch.equal(c, x)),
        "inverted_mean": many.mean().item(),
        "unscaled_mean": (many * (1 - p)).mean().item(),
    }


def sigmoid_saturation_grads(
    scales=(0.1, 0.3, 1.0, 2.0, 3.0, 5.0), d: int = 10, k: int = 4, seed: int = 0
) -> list[dict]:
    """Q1.7 (saturation): a layer of k sigmoid units h = sigmoid(W x) with positive inputs x (d,)
    and positive weights W = s * |N(0, 1)| (k x d).  As the scale s grows the pre-activations grow,
    the units saturate at 1 and dh/dW = sigmoid'(Wx) x^T collapses (sigmoid' <= 1/4, ~exp(-z) for
    large z).

    Returns one row per scale: the mean pre-activation, mean output and ||d sum(h) / dW||.
    """
    g = _gen(seed)
    x = torch.rand(d, generator=g, dtype=DTYPE) * 0.5 + 0.5
    base = torch.randn(k, d, generator=g, dtype=DTYPE).abs()
    rows = []
    for s in scales:
        W = (s * base).requires_grad_(True)
        z = W @ x
        h = torch.sigmoid(z)
        (grad,) = torch.autograd.grad(h.sum(), W)
        rows.append(
            {
                "scale": s,
                "mean_preact": z.mean().item(),
                "mean_output": h.mean().item(),
                "grad_norm": grad.norm().item(),
            }
        )
    return rows


def residual_gradient_norms(depth: int = 30, width: int = 16, seed: int = 0) -> dict:
    """Q1.8 (residual connections): the same stack of `depth` blocks Linear(width, width) + tanh,
    run once plainly, h <- tanh(L(h)), and once with identity shortcuts, h <- h + tanh(L(h)).

    The loss is sum(h_depth) on a random batch; returns ||dLoss/dW|| of the FIRST layer's weight in
    both networks and their ratio, and in each network the first layer's gradient norm over the last
    layer's (`*_first_over_last`: how much of the gradient survives the way down, whatever the
    loss's scale).  With the shortcut the block Jacobian is I + dF/dh, so the gradient has an
    identity path to the first layer instead of a product of `depth` small factors."""
    g = _gen(seed)
    layers = [nn.Linear(width, width).to(DTYPE) for _ in range(depth)]
    with torch.no_grad():
        for lin in layers:  # torch's default Linear init, drawn from our own generator
            bound = 1.0 / math.sqrt(width)
            lin.weight.copy_((torch.rand(width, width, generator=g, dtype=DTYPE) * 2 - 1) * bound)
            lin.bias.copy_((torch.rand(width, generator=g, dtype=DTYPE) * 2 - 1) * bound)
    x = torch.randn(8, width, generator=g, dtype=DTYPE)

    def first_and_last_grad(residual: bool) -> tuple[float, float]:
        h = x
        for lin in layers:
            h = h + torch.tanh(lin(h)) if residual else torch.tanh(lin(h))
        first, last = torch.autograd.grad(h.sum(), [layers[0].weight, layers[-1].weight])
        return first.norm().item(), last.norm().item()

    (plain, plain_last), (resid, resid_last) = first_and_last_grad(False), first_and_last_grad(True)
    return {
        "depth": depth,
        "plain_first_grad": plain,
        "residual_first_grad": resid,
        "ratio": resid / plain,
        "plain_first_over_last": plain / plain_last,
        "residual_first_over_last": resid / resid_last,
    }


def layers_need_a_loop(n: int = 6, width: int = 5, depth: int = 3, seed: int = 0) -> dict:
    """Q1.2: what vectorization does and does not remove from forward propagation.

    The loop over the examples of a batch goes away: one matrix product per layer gives what a
    per-example loop gives (returned: their largest difference).  The loop over layers stays, in
    `forward` below: layer l needs layer l-1's output.
    """
    g = _gen(seed)
    Ws = [torch.randn(width, width, generator=g, dtype=DTYPE) for _ in range(depth)]
    X = torch.randn(n, width, generator=g, dtype=DTYPE)

    def forward(batch):  # rows are examples; the layers are applied one after the other
        h = batch
        for W in Ws:
            h = torch.sigmoid(h @ W.T)
        return h

    batched = forward(X)
    per_example = torch.stack([forward(x[None, :])[0] for x in X])
    return {"batch_vs_loop": (batched - per_example).abs().max().item(), "layers": len(Ws)}


def forward_cache_backprop(n: int = 4, d: int = 3, k: int = 2, seed: int = 0) -> dict:
    """Q1.9: a layer a = sigmoid(W x + b) done by hand, the way the course's forward/backward pairs
    work.

    The forward pass returns its output and a cache (x, W, a); the backward pass computes the
    gradients from the incoming gradient and that cache alone.  Returns the largest difference from
    autograd.
    """
    g = _gen(seed)
    x = torch.randn(n, d, generator=g, dtype=DTYPE)
    W = torch.randn(k, d, generator=g, dtype=DTYPE)
    b = torch.randn(k, generator=g, dtype=DTYPE)
    upstream = torch.randn(n, k, generator=g, dtype=DTYPE)

    def forward(x, W, b):
        a = torch.sigmoid(x @ W.T + b)
        return a, (x, W, a)  # what backward will need, computed once here

    def backward(da, cache):
        x, W, a = cache
        dz = da * a * (1 - a)
        return dz @ W, dz.T @ x, dz.sum(0)  # dx, dW, db

    a, cache = forward(x, W, b)
    by_hand = backward(upstream, cache)
    leaves = [t.clone().requires_grad_(True) for t in (x, W, b)]
    reference = torch.autograd.grad(
        torch.sigmoid(leaves[0] @ leaves[1].T + leaves[2]), leaves, upstream
    )
    return {
        "max_abs_err": max((h - r).abs().max().item() for h, r in zip(by_hand, reference)),
        "cache": ("x", "W", "a"),
    }


@dataclass(frozen=True)
class ClosedAnswer:
    """A multiple-choice or True/False item of the handout, answered as data so that a test can hold
    hw3.md to it.  `answer` is the tuple of chosen boxes, or True/False.  `check` names the function
    of this module whose numbers back the reason (None where the reason is an argument, not a
    number)."""

    item: str
    options: dict[str, str]
    answer: tuple[str, ...] | bool
    reason: str
    check: str | None


CLOSED_ANSWERS: dict[str, ClosedAnswer] = {
    a.item: a
    for a in (
        ClosedAnswer(
            "1.1",
            {
                "a": "same computation, even after many iterations",
                "b": "symmetry broken after one iteration",
                "c": "different layers differ, so symmetry is broken",
                "d": "different computations from the start",
            },
            ("a",),
            "identical units get identical gradients, so every update keeps them identical",
            "constant_init_mlp_symmetry",
        ),
        ClosedAnswer(
            "1.2",
            {},
            False,
            "layer l needs the output of layer l-1, so the layers still run one after the "
            "other; vectorization removes the loop over examples (and units), not over layers",
            "layers_need_a_loop",
        ),
        ClosedAnswer(
            "1.3",
            {},
            True,
            "tanh's outputs are centred on 0 (tanh(0) = 0), sigmoid's on 1/2",
            "zero_centred_check",
        ),
        ClosedAnswer(
            "1.4",
            {
                "a": "Data augmentation",
                "b": "Dropout",
                "c": "Early stopping",
                "d": "None of the above",
            },
            ("d",),
            "all three reduce overfitting, so none of them is the technique that does not",
            None,
        ),
        ClosedAnswer(
            "1.9",
            {
                "a": "forward values cached for the backward step",
                "b": "hyperparameters cached",
                "c": "backward values cached for the forward step",
            },
            ("a",),
            "backward needs the forward pass's inputs and activations (x, W, a) to form its "
            "gradients",
            "forward_cache_backprop",
        ),
        ClosedAnswer(
            "1.10",
            {
                "a": "deeper layers compute more complex features",
                "b": "earlier layers compute more complex features",
            },
            ("a",),
            "each layer builds on the features of the layer below, so complexity grows with depth",
            None,
        ),
    )
}


# ============================================================================ 2. Jacobians
def jacobian_problem(n: int = 5, d: int = 3, k: int = 4, i: int = 2, seed: int = 0) -> dict:
    """Random float64 X (n x d), W (k x d), w (d x 1) and the row index i (x_i = X[i] as d x 1).

    n, d, k are distinct so that a transposed or mis-shaped answer cannot pass by accident.
    """
    g = _gen(seed)
    X = torch.randn(n, d, generator=g, dtype=DTYPE)
    return {
        "X": X,
        "W": torch.randn(k, d, generator=g, dtype=DTYPE),
        "w": torch.randn(d, 1, generator=g, dtype=DTYPE),
        "i": i,
        "x_i": X[i].reshape(d, 1).clone(),
    }


@dataclass(frozen=True)
class JacobianItem:
    """One Jacobian question.  `f(P)` maps the problem to (function, input tensor);
    `closed_form(P)` is our answer; `shape(P)` the shape we claim for it."""

    item: str
    expression: str
    answer: str
    shape_text: str
    f: Callable[[dict], tuple[Callable[[torch.Tensor], torch.Tensor], torch.Tensor]]
    closed_form: Callable[[dict], torch.Tensor]
    shape: Callable[[dict], tuple[int, ...]]


def _dims(P):
    n, d = P["X"].shape
    return n, d, P["W"].shape[0]


JACOBIAN_CONSTANT = 3.0  # the c of item 2.1


def jacobian_items() -> list[JacobianItem]:
    """The handout's items 2.1-2.7, in its convention: (shape of the output) x (shape of the
    input)."""
    c = JACOBIAN_CONSTANT
    return [
        JacobianItem(
            "2.1",
            "f(w) = c",
            "0^T (a row of d zeros)",
            "1 x d",
            lambda P: (lambda w: torch.full((1, 1), c, dtype=DTYPE), P["w"]),
            lambda P: torch.zeros(1, _dims(P)[1], dtype=DTYPE),
            lambda P: (1, _dims(P)[1]),
        ),
        JacobianItem(
            "2.2",
            "f(w) = ||w||^2",
            "2 w^T",
            "1 x d",
            lambda P: (lambda w: w.T @ w, P["w"]),
            lambda P: 2 * P["w"].T,
            lambda P: (1, _dims(P)[1]),
        ),
        JacobianItem(
            "2.3",
            "f(w) = w^T x_i",
            "x_i^T",
            "1 x d",
            lambda P: (lambda w: w.T @ P["x_i"], P["w"]),
            lambda P: P["x_i"].T.clone(),
            lambda P: (1, _dims(P)[1]),
        ),
        JacobianItem(
            "2.4",
            "f(w) = X w",
            "X",
            "n x d",
            lambda P: (lambda w: P["X"] @ w, P["w"]),
            lambda P: P["X"].clone(),
            lambda P: (_dims(P)[0], _dims(P)[1]),
        ),
        JacobianItem(
            "2.5",
            "f(w) = w",
            "I_d",
            "d x d",
            lambda P: (lambda w: w, P["w"]),
            lambda P: torch.eye(_dims(P)[1], dtype=DTYPE),
            lambda P: (_dims(P)[1], _dims(P)[1]),
        ),
        JacobianItem(
            "2.6",
            "f(w) = w^2 (element-wise)",
            "diag(2 w)",
            "d x d",
            lambda P: (lambda w: w**2, P["w"]),
            lambda P: torch.diag(2 * P["w"].squeeze(1)),
            lambda P: (_dims(P)[1], _dims(P)[1]),
        ),
        JacobianItem(
            "2.7",
            "f(W) = X W^T",
            "J[i, a, b, c] = delta_ab X_ic",
            "(n x k) x (k x d)",
            lambda P: (lambda W: P["X"] @ W.T, P["W"]),
            lambda P: torch.einsum("ab,ic->iabc", torch.eye(_dims(P)[2], dtype=DTYPE), P["X"]),
            lambda P: (_dims(P)[0], _dims(P)[2], _dims(P)[2], _dims(P)[1]),
        ),
    ]


def _index_shape(shape: torch.Size) -> tuple[int, ...]:
    """A column vector (m x 1) carries one index (m,); anything else keeps its shape."""
    return (shape[0],) if len(shape) == 2 and shape[1] == 1 else tuple(shape)


def autograd_jacobian(
    fn: Callable[[torch.Tensor], torch.Tensor], inp: torch.Tensor
) -> torch.Tensor:
    """torch.autograd.functional.jacobian, laid out as index_shape(output) + index_shape(input)."""
    out = fn(inp)
    J = torch.autograd.functional.jacobian(fn, inp)
    return J.reshape(_index_shape(out.shape) + _index_shape(inp.shape))


def check_jacobian(item: JacobianItem, P: dict) -> dict:
    """Compare one closed form with autograd: claimed shape, closed-form shape and values."""
    fn, inp = item.f(P)
    ref = autograd_jacobian(fn, inp)
    ours = item.closed_form(P)
    shapes_ok = tuple(ours.shape) == tuple(ref.shape) == tuple(item.shape(P))
    err = (ours - ref).abs().max().item() if shapes_ok else math.inf
    return {
        "item": item.item,
        "shape": tuple(ref.shape),
        "claimed_shape": tuple(item.shape(P)),
        "closed_form_shape": tuple(ours.shape),
        "max_abs_err": err,
        "ok": shapes_ok and err < 1e-10,
    }


# ============================================================================ 3. activations
LEAKY_SLOPE = 0.01  # nn.LeakyReLU's default, the one 6.1.4 trains with; Figure 1 draws it too


def gelu_exact(x: torch.Tensor) -> torch.Tensor:
    """GELU(x) = x Phi(x), Phi the standard normal CDF (Hendrycks & Gimpel 2016; torch's
    default)."""
    return x * 0.5 * (1 + torch.erf(x / math.sqrt(2)))


def activation_derivatives(slope: float = LEAKY_SLOPE) -> dict[str, tuple[Callable, Callable]]:
    """name -> (activation, closed-form derivative).  At x = 0 ReLU and LeakyReLU are not
    differentiable; we use torch's choice (ReLU'(0) = 0, LeakyReLU'(0) = slope)."""
    phi = lambda x: torch.exp(-x * x / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    Phi = lambda x: 0.5 * (1 + torch.erf(x / math.sqrt(2)))  # noqa: E731
    return {
        "sigmoid": (torch.sigmoid, lambda x: torch.sigmoid(x) * (1 - torch.sigmoid(x))),
        "tanh": (torch.tanh, lambda x: 1 - torch.tanh(x) ** 2),
        "relu": (torch.relu, lambda x: (x > 0).to(x.dtype)),
        "leaky_relu": (
            lambda x: F.leaky_relu(x, slope),
            lambda x: torch.where(x > 0, torch.ones_like(x), torch.full_like(x, slope)),
        ),
        "gelu": (F.gelu, lambda x: Phi(x) + x * phi(x)),
    }


def activation_grid(half_width: int = 6, per_unit: int = 100) -> torch.Tensor:
    """Float64 grid over [-half_width, half_width] with step 1/per_unit, containing 0 exactly (so
    the ReLU convention at 0 is tested; torch.linspace would miss it by rounding)."""
    n = half_width * per_unit
    return torch.arange(-n, n + 1, dtype=DTYPE) / per_unit


def check_activation_derivatives(slope: float = LEAKY_SLOPE) -> dict[str, float]:
    """Max |closed-form derivative - autograd| on the grid, per activation."""
    out = {}
    x = activation_grid()
    for name, (f, df) in activation_derivatives(slope).items():
        xg = x.clone().requires_grad_(True)
        (ref,) = torch.autograd.grad(f(xg).sum(), xg)  # elementwise f, so d sum/dx_i = f'(x_i)
        out[name] = (df(x) - ref).abs().max().item()
    return out


def softmax_jacobian(z: torch.Tensor) -> torch.Tensor:
    """Closed form of d softmax(z) / dz for z (m,): diag(s) - s s^T, entry [i, j] = s_i (delta_ij -
    s_j)."""
    s = torch.softmax(z, dim=0)
    return torch.diag(s) - torch.outer(s, s)


def softmax_checks(m: int = 6, seed: int = 0) -> dict:
    """Softmax Jacobian vs autograd, its symmetry, and that its rows (and columns) sum to zero."""
    z = torch.randn(m, generator=_gen(seed), dtype=DTYPE) * 2
    J = softmax_jacobian(z)
    ref = torch.autograd.functional.jacobian(lambda t: torch.softmax(t, dim=0), z)
    s = torch.softmax(z, dim=0)
    elementwise = torch.tensor(
        [[s[i].item() * (float(i == j) - s[j].item()) for j in range(m)] for i in range(m)],
        dtype=DTYPE,
    )
    return {
        "max_abs_err": (J - ref).abs().max().item(),
        "elementwise_err": (elementwise - ref).abs().max().item(),
        "asymmetry": (J - J.T).abs().max().item(),
        "max_abs_row_sum": J.sum(dim=1).abs().max().item(),
        "max_abs_col_sum": J.sum(dim=0).abs().max().item(),
    }


def zero_centred_check() -> dict:
    """Q1.3, Q3.4: the mean output over a symmetric grid, the value at 0, the output range and the
    largest derivative of sigmoid and tanh; plus the sign pattern of the weight gradient of the next
    layer.

    For a layer a = V h, dL/dV[r, :] = delta_r * h^T: if every h_j > 0 (sigmoid inputs) each row of
    the gradient has a single sign, so all weights of a unit move in the same direction (zig-zag).
    """
    x = activation_grid()
    sig, th = torch.sigmoid(x), torch.tanh(x)
    g = _gen(0)
    pre = torch.randn(64, 8, generator=g, dtype=DTYPE) * 2
    delta = torch.randn(64, 5, generator=g, dtype=DTYPE)

    def single_sign_rows(h):
        grads = delta.unsqueeze(2) * h.unsqueeze(1)  # (batch, 5 units, 8): per-example dL/dV rows
        pos, neg = (grads > 0).all(dim=2), (grads < 0).all(dim=2)
        return (pos | neg).double().mean().item()

    d = activation_derivatives()
    return {
        "sigmoid_mean": sig.mean().item(),
        "tanh_mean": th.mean().item(),
        "sigmoid_at_0": torch.sigmoid(torch.zeros((), dtype=DTYPE)).item(),
        "tanh_at_0": torch.tanh(torch.zeros((), dtype=DTYPE)).item(),
        "sigmoid_min": sig.min().item(),
        "tanh_min": th.min().item(),
        "sigmoid_max_grad": d["sigmoid"][1](x).max().item(),
        "tanh_max_grad": d["tanh"][1](x).max().item(),
        "single_sign_rows_sigmoid": single_sign_rows(torch.sigmoid(pre)),
        "single_sign_rows_tanh": single_sign_rows(torch.tanh(pre)),
    }


def linear_layers_collapse(depth: int = 4, width: int = 6, n: int = 200, seed: int = 0) -> dict:
    """Q3.1: without activation functions a stack of linear layers is one linear layer.

    Builds `depth` nn.Linear layers, then the single (W, b) they amount to (W = W_L ... W_1, b
    folded in), and returns the largest difference between the stack and that one layer.  For
    contrast, the same stack with tanh between the layers is fitted by least squares with the best
    single affine map: the fit's residual is far from 0, so the activations add something no linear
    layer has.
    """
    g = _gen(seed)
    with torch.random.fork_rng(devices=[]):  # nn.Linear's own init draws from the global RNG
        layers = [nn.Linear(width, width).to(DTYPE) for _ in range(depth)]
    with torch.no_grad():
        for lin in layers:
            lin.weight.copy_(torch.randn(width, width, generator=g, dtype=DTYPE))
            lin.bias.copy_(torch.randn(width, generator=g, dtype=DTYPE))
    X = torch.randn(n, width, generator=g, dtype=DTYPE)
    W, b = torch.eye(width, dtype=DTYPE), torch.zeros(width, dtype=DTYPE)
    for lin in layers:  # h -> W_l h + b_l applied to (W h + b) gives (W_l W) h + (W_l b + b_l)
        W, b = lin.weight.detach() @ W, lin.weight.detach() @ b + lin.bias.detach()
    with torch.no_grad():
        stacked, nonlinear = X, X
        for i, lin in enumerate(layers):
            stacked = lin(stacked)
            nonlinear = lin(nonlinear) if i == depth - 1 else torch.tanh(lin(nonlinear))
        design = torch.cat([X, torch.ones(n, 1, dtype=DTYPE)], dim=1)
        coef = torch.linalg.lstsq(design, nonlinear).solution
        residual = (design @ coef - nonlinear).pow(2).mean().sqrt().item()
    return {
        "linear_stack_vs_one_layer": (stacked - (X @ W.T + b)).abs().max().item(),
        "tanh_stack_best_affine_rms_residual": residual,
        "tanh_stack_rms": nonlinear.pow(2).mean().sqrt().item(),
    }


def vanishing_chain(depth: int = 10, points: int = 41) -> dict:
    """Q3.3: the derivative of phi(phi(...phi(x))) (depth times, unit weights) by autograd, for
    sigmoid, tanh and ReLU, at inputs x in [-4, 4].  Returns, per activation, the largest
    |derivative| over the inputs and the derivative at x = 2, and for ReLU the derivative at x < 0
    and x > 0 separately (its dead and live sides)."""
    x = torch.linspace(-4, 4, points, dtype=DTYPE).requires_grad_(True)
    out = {}
    for name in ("sigmoid", "tanh", "relu"):
        h = x
        for _ in range(depth):
            h = ACTIVATIONS[name](h)
        (grad,) = torch.autograd.grad(h.sum(), x)  # elementwise chain: d sum / dx_i = d h_i / dx_i
        out[name] = grad.abs().max().item()
        out[f"{name}_at_2"] = grad[x.detach() == 2].item()
        if name == "relu":
            out["relu_negative_side"] = grad[x.detach() < 0].abs().max().item()
            out["relu_positive_side_min"] = grad[x.detach() > 0].min().item()
    out["depth"] = depth
    return out


# Limits of each activation f and its derivative f' as x -> -inf and x -> +inf: Figure 1 writes them
# on its panels, and a test checks them against the closed forms at large |x|.
ACTIVATION_LIMITS: dict[str, dict[str, tuple[float, float]]] = {
    "sigmoid": {"f": (0.0, 1.0), "df": (0.0, 0.0)},
    "tanh": {"f": (-1.0, 1.0), "df": (0.0, 0.0)},
    "relu": {"f": (0.0, math.inf), "df": (0.0, 1.0)},
    "leaky_relu": {"f": (-math.inf, math.inf), "df": (LEAKY_SLOPE, 1.0)},
    "gelu": {"f": (0.0, math.inf), "df": (0.0, 1.0)},
}


def _limit_text(v: float) -> str:
    return {math.inf: "+inf", -math.inf: "-inf"}.get(v, f"{v:g}")


def limits_caption(name: str) -> str:
    """'x -> -inf: f -> 0, f' -> 0;  x -> +inf: f -> 1, f' -> 0' for one activation."""
    lim = ACTIVATION_LIMITS[name]
    return (
        f"x -> -inf: f -> {_limit_text(lim['f'][0])}, f' -> {_limit_text(lim['df'][0])};  "
        f"x -> +inf: f -> {_limit_text(lim['f'][1])}, f' -> {_limit_text(lim['df'][1])}"
    )


# ============================================================================ 4. XOR
def xor_single_layer_search(
    grid_half_width: float = 3.0,
    steps: int = 49,
    n_random: int = 64,
    gd_steps: int = 300,
    seed: int = 0,
) -> dict:
    """Q4.1: y = ReLU(w1 x1 + w2 x2 + b) cannot represent XOR.

    Two searches: (1) a dense grid over (w1, w2, b) in [-h, h]^3; (2) full-batch gradient descent on
    the MSE from `n_random` random inits (vectorised).  Returns the best max-abs-error and the best
    MSE found.  A single ReLU unit is a monotone function of one projection, so neither can go below
    the bounds XOR_MONOTONE_MAX_ERR_BOUND and XOR_MONOTONE_MSE_BOUND.
    """
    X, y = xor_data()
    t = torch.linspace(-grid_half_width, grid_half_width, steps, dtype=DTYPE)
    w1, w2, b = torch.meshgrid(t, t, t, indexing="ij")
    params = torch.stack([w1.reshape(-1), w2.reshape(-1), b.reshape(-1)], dim=1)  # (G, 3)
    out = torch.relu(params[:, :2] @ X.T + params[:, 2:])  # (G, 4)
    err = out - y
    grid_max_err = err.abs().max(dim=1).values.min().item()
    grid_mse = (err**2).mean(dim=1).min().item()
    grid_exact = int((err.abs().max(dim=1).values < 1e-9).sum())

    p = torch.randn(n_random, 3, generator=_gen(seed), dtype=DTYPE).requires_grad_(True)
    opt = torch.optim.SGD([p], lr=0.2)
    with _one_thread():
        for _ in range(gd_steps):  # the inits are independent: summing their losses trains each one
            opt.zero_grad()
            loss = ((torch.relu(p[:, :2] @ X.T + p[:, 2:]) - y) ** 2).mean(dim=1)
            loss.sum().backward()
            opt.step()
    with torch.no_grad():
        gd_err = torch.relu(p[:, :2] @ X.T + p[:, 2:]) - y
    return {
        "grid_points": params.shape[0],
        "grid_best_max_abs_err": grid_max_err,
        "grid_best_mse": grid_mse,
        "grid_exact_solutions": grid_exact,
        "gd_inits": n_random,
        "gd_best_mse": (gd_err**2).mean(dim=1).min().item(),
        "gd_best_max_abs_err": gd_err.abs().max(dim=1).values.min().item(),
    }


XOR_W1 = ((1.0, 1.0), (1.0, 1.0))
XOR_B1 = (1.0, -1.0)
XOR_W2 = (1.0, -2.0)
XOR_B2 = -1.0


def xor_two_layer(W1=XOR_W1, b1=XOR_B1, W2=XOR_W2, b2=XOR_B2) -> dict:
    """Q4.2: y = W2 ReLU(W1 x + b1) + b2 with the handout's weights; returns hidden values and
    outputs on the four inputs (4 x 2 and 4,) and the largest error against XOR."""
    X, y = xor_data()
    W1, b1, W2 = (torch.tensor(v, dtype=DTYPE) for v in (W1, b1, W2))
    h = torch.relu(X @ W1.T + b1)
    out = h @ W2 + b2
    return {
        "inputs": X.tolist(),
        "hidden": h.tolist(),
        "outputs": out.tolist(),
        "max_abs_err": (out - y).abs().max().item(),
    }


def xor_constant_init_training(
    activation: str = "relu",
    value: float = 0.0,
    hidden: int = 4,
    steps: int = 300,
    lr: float = 0.2,
    loss: str = "mse",
) -> dict:
    """Q4.3 / Q4.4: y = W2 act(W1 x + b1) + b2 with EVERY parameter set to `value`, trained by
    full-batch SGD on the loss LOSSES[loss] over the four XOR points.  Returns the hidden-unit
    spread, the largest difference between W1's two input columns (x1 and x2 treated alike), the
    largest |W1|, |b1|, |W2|, the final b2, the loss history's first/last/lowest values and the
    final outputs."""
    X, y = xor_data()
    model = _mlp(2, hidden, 1, activation)
    _constant_init_(model, value)
    losses = _train(model, X, y, SGD(steps, lr=lr, loss=loss))
    with torch.no_grad():
        outputs = model(X).squeeze(-1)
    W1 = model[0].weight.detach()
    return {
        "activation": activation,
        "value": value,
        "steps": steps,
        "loss": loss,
        "spread": hidden_unit_spread(model),
        "column_spread": (W1[:, 0] - W1[:, 1]).abs().max().item(),
        "b2": model[2].bias.detach().item(),
        "max_abs_W1": model[0].weight.detach().abs().max().item(),
        "max_abs_b1": model[0].bias.detach().abs().max().item(),
        "max_abs_W2": model[2].weight.detach().abs().max().item(),
        "loss_first": losses[0],
        "loss_last": losses[-1],
        "loss_min": min(losses),
        "outputs": outputs.tolist(),
    }


def xor_random_init_training(
    activation: str = "tanh", hidden: int = 4, steps: int = 500, lr: float = 0.2, seed: int = 0
) -> dict:
    """Contrast for Q4.4: the same network and trainer from a random init does fit XOR."""
    X, y = xor_data()
    model = _mlp(2, hidden, 1, activation)
    _random_init_(model, seed)
    losses = _train(model, X, y, SGD(steps, lr=lr))
    return {"activation": activation, "loss_last": losses[-1], "spread": hidden_unit_spread(model)}


def xor_gelu_identical_units(hidden: int = 4, t1: float = -3.0) -> dict:
    """Q4.4 (the monotonicity condition matters): GELU is NOT monotone (minimum about -0.17 at
    x ~ -0.75), and a network whose hidden units are all identical copies of one GELU unit fits XOR
    exactly.  We pick pre-activations t1 < t2 with GELU(t1) = GELU(t2) (bisection), so the XOR
    inputs map to t1, m, m, t2 with m = (t1 + t2) / 2, then scale the output layer.

    Returns the parameters, the spread (0: identical units) and the largest error on XOR.
    """
    target = gelu_exact(torch.tensor(t1, dtype=DTYPE))
    # GELU increasing here
    lo, hi = (
        torch.tensor(-0.75, dtype=DTYPE),
        torch.tensor(0.0, dtype=DTYPE),
    )
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if gelu_exact(mid) < target else (lo, mid)
    t2 = ((lo + hi) / 2).item()
    u = (t2 - t1) / 2  # x = (0,0) -> t1, (0,1), (1,0) -> t1 + u, (1,1) -> t1 + 2u = t2
    g_end, g_mid = target.item(), gelu_exact(torch.tensor(t1 + u, dtype=DTYPE)).item()
    a = 1.0 / (g_mid - g_end)
    model = _mlp(2, hidden, 1, "gelu")
    with torch.no_grad():
        model[0].weight.fill_(u)
        model[0].bias.fill_(t1)
        model[2].weight.fill_(a / hidden)
        model[2].bias.fill_(-a * g_end)
        X, y = xor_data()
        out = model(X).squeeze(-1)
    return {
        "t1": t1,
        "t2": t2,
        "u": u,
        "a": a,
        "spread": hidden_unit_spread(model),
        "outputs": out.tolist(),
        "max_abs_err": (out - y).abs().max().item(),
    }


# ============================================================================ 5. computation graph
def computation_graph_values(x: float = 1.0, y: float = 3.0, z: float = 2.0) -> dict:
    """Q5: f(x, y, z) = ln x + exp(y) * z with h1 = ln x, h2 = exp(y), h3 = h2 * z, f = h1 + h3.

    Returns the forward values, the local derivatives, the gradients by the hand chain rule and by
    autograd (float64), including df/dh1, df/dh2, df/dh3 from retain_grad.
    """
    h1, h2 = math.log(x), math.exp(y)
    h3 = h2 * z
    f = h1 + h3
    local = {
        "dh1/dx": 1 / x,
        "dh2/dy": math.exp(y),
        "dh3/dh2": z,
        "dh3/dz": h2,
        "df/dh1": 1.0,
        "df/dh3": 1.0,
    }
    chain = {
        "df/dh3": local["df/dh3"],
        "df/dh1": local["df/dh1"],
        "df/dh2": local["df/dh3"] * local["dh3/dh2"],
        "df/dx": local["df/dh1"] * local["dh1/dx"],
        "df/dy": local["df/dh3"] * local["dh3/dh2"] * local["dh2/dy"],
        "df/dz": local["df/dh3"] * local["dh3/dz"],
    }
    xs = [torch.tensor(v, dtype=DTYPE, requires_grad=True) for v in (x, y, z)]
    t1, t2 = torch.log(xs[0]), torch.exp(xs[1])
    t3 = t2 * xs[2]
    for t in (t1, t2, t3):
        t.retain_grad()
    out = t1 + t3
    out.backward()
    auto = {
        "df/dx": xs[0].grad.item(),
        "df/dy": xs[1].grad.item(),
        "df/dz": xs[2].grad.item(),
        "df/dh1": t1.grad.item(),
        "df/dh2": t2.grad.item(),
        "df/dh3": t3.grad.item(),
    }
    return {
        "inputs": {"x": x, "y": y, "z": z},
        "forward": {"h1": h1, "h2": h2, "h3": h3, "f": f},
        "forward_autograd": {"h1": t1.item(), "h2": t2.item(), "h3": t3.item(), "f": out.item()},
        "local": local,
        "chain": chain,
        "autograd": auto,
    }


# ============================================================================ the claims
@dataclass(frozen=True)
class Claim:
    """One claim of hw3.md sections 1-5 and its threshold, stated here once.

    `python main.py written` prints each claim with PASS/FAIL and its numbers;
    tests/written/test_written.py asserts `holds` for every claim; tests/written/test_hw3_md.py
    holds the answer line of `item` in hw3.md to `result` (the boxes, True/False, or the sentence
    that hw3.md states).  Items whose result is a shape, an expression, weights or values have no
    `result` here: the test evaluates what hw3.md writes and compares it with the computation named
    in ITEM_CHECKS.
    """

    item: str
    statement: str
    compute: Callable[[], object]
    holds: Callable[[object], bool]
    numbers: Callable[[object], str]
    result: object = None


def _jacobian_claim(item: JacobianItem) -> Claim:
    return Claim(
        item.item,
        f"{item.expression}: {item.answer} ({item.shape_text})",
        lambda: check_jacobian(item, jacobian_problem()),
        lambda c: c["ok"],
        lambda c: f"shape {c['shape']}, max |closed form - autograd| = {c['max_abs_err']:.1e}",
    )


def _e3_close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-10 * max(1.0, abs(b))


def _graph_holds(v) -> bool:
    e3 = math.exp(3)
    expected = {"df/dx": 1.0, "df/dy": 2 * e3, "df/dz": e3}
    return (
        all(_e3_close(v["chain"][k], v["autograd"][k]) for k in v["chain"])
        and all(_e3_close(v["forward"][k], v["forward_autograd"][k]) for k in v["forward"])
        and all(_e3_close(v["chain"][k], x) for k, x in expected.items())
    )


def _symmetry_claim(item: str, activation: str, value: float, result) -> Claim:
    return Claim(
        item,
        f"constant init {value} ({activation}): the hidden units stay identical after 60 SGD steps "
        "(from a random init they differ)",
        lambda: constant_init_mlp_symmetry(activation, value),
        lambda r: r["spread_after"] <= 1e-12 and r["random_init_spread_after"] > 1e-2,
        lambda r: (
            f"spread {r['spread_after']:.1e} (random init: {r['random_init_spread_after']:.2f}), "
            f"W1 moved {r['w1_moved']:.2e}, loss {r['loss_first']:.3f} -> {r['loss_last']:.3f}"
        ),
        result,
    )


def _xor_constant_claim(activation: str) -> Claim:
    return Claim(
        "4.4",
        f"constant init 0.5 ({activation}, monotone): units stay identical, the loss stays >= 1/6",
        lambda: xor_constant_init_training(activation, 0.5),
        lambda r: r["spread"] <= 1e-12 and r["loss_min"] >= XOR_MONOTONE_MSE_BOUND - 1e-9,
        lambda r: (
            f"spread {r['spread']:.1e}, lowest loss {r['loss_min']:.4f} in {r['steps']} steps"
        ),
        ANSWER_4_4,
    )


ANSWER_4_4 = "true when $f$ is monotone; false for a non-monotone $f$ such as GELU."


def _zero_centred_holds(z) -> bool:
    return (
        abs(z["sigmoid_at_0"] - 0.5) < 1e-12
        and z["sigmoid_min"] > 0
        and abs(z["tanh_mean"]) < 1e-12
        and abs(z["sigmoid_max_grad"] - 0.25) < 1e-12
        and abs(z["tanh_max_grad"] - 1) < 1e-12
        and z["single_sign_rows_sigmoid"] == 1.0
        and z["single_sign_rows_tanh"] < 0.5
    )


def _zero_centred_numbers(z) -> str:
    return (
        f"sigmoid mean {z['sigmoid_mean']:.3f}, tanh mean {z['tanh_mean']:.1e}, max sigmoid' "
        f"{z['sigmoid_max_grad']:.3f}; single-sign gradient rows: sigmoid "
        f"{z['single_sign_rows_sigmoid']:.2f}, "
        f"tanh {z['single_sign_rows_tanh']:.2f}"
    )


def _saturation_holds(rows) -> bool:
    norms = [r["grad_norm"] for r in rows]
    return all(a > b for a, b in zip(norms, norms[1:])) and norms[-1] < 1e-9 * norms[0]


def _vanishing_holds(r) -> bool:
    return (
        r["sigmoid"] <= 0.25 ** r["depth"]
        and r["tanh_at_2"] < 0.01
        and r["relu_negative_side"] == 0
        and r["relu_positive_side_min"] == 1
    )


CLAIMS: list[Claim] = [
    # 1. concepts
    *(
        _symmetry_claim("1.1", act, value, ("a",))
        for act, value in (("sigmoid", 0.0), ("tanh", 0.0), ("sigmoid", 0.3))
    ),
    Claim(
        "1.2",
        "vectorization removes the loop over examples (one batched pass = a per-example loop), "
        "not the loop over layers",
        layers_need_a_loop,
        lambda r: r["batch_vs_loop"] < 1e-12,
        lambda r: (
            f"batch vs per-example loop {r['batch_vs_loop']:.1e} ({r['layers']} layers, "
            "applied in a loop)"
        ),
        False,
    ),
    Claim(
        "1.3",
        "sigmoid is centred on 1/2 (outputs > 0), tanh on 0; sigmoid' <= 1/4, tanh' <= 1",
        zero_centred_check,
        _zero_centred_holds,
        _zero_centred_numbers,
        True,
    ),
    Claim(
        "1.5",
        "dropout: random in train(), the identity in eval(), inverted scaling keeps the mean",
        dropout_demo,
        lambda r: (
            r["train_outputs_differ"]
            and r["eval_outputs_equal"]
            and r["eval_is_identity"]
            and abs(r["inverted_mean"] - 1) < 0.01
            and abs(r["unscaled_mean"] - (1 - r["p"])) < 0.01
        ),
        lambda r: (
            f"p={r['p']}: train zeros {r['train_zero_fraction']:.3f}, kept value "
            f"{r['train_kept_value']:.1f}; "
            f"E[inverted]={r['inverted_mean']:.4f}, E[unscaled]={r['unscaled_mean']:.4f}"
        ),
        "on in training (a random mask; kept units scaled by $1/(1-p)$), off in evaluation "
        "(the identity).",
    ),
    _symmetry_claim(
        "1.6",
        "sigmoid",
        0.3,
        "every unit of a layer stays a copy of the others for the whole of "
        "training, so the layer is no better than one unit.",
    ),
    Claim(
        "1.7",
        "large positive weights saturate sigmoid units; the gradient collapses",
        sigmoid_saturation_grads,
        _saturation_holds,
        lambda rows: ", ".join(f"s={a['scale']:g}: |grad|={a['grad_norm']:.2e}" for a in rows),
        "No: the sigmoids saturate, so the gradients vanish and learning stalls.",
    ),
    Claim(
        "1.8",
        "residual path: the gradient reaching layer 1 of a 30-layer tanh stack",
        residual_gradient_norms,
        lambda r: (
            r["ratio"] > 1e3
            and r["plain_first_over_last"] < 1e-6
            and 0.1 < r["residual_first_over_last"] < 10
        ),
        lambda r: (
            f"first/last layer gradient: plain {r['plain_first_over_last']:.1e}, residual "
            f"{r['residual_first_over_last']:.1f}"
        ),
        "the shortcut gives the gradient an identity path through every block, so it does not "
        "vanish with depth.",
    ),
    Claim(
        "1.9",
        "backward from the forward pass's cache (x, W, a) matches autograd",
        forward_cache_backprop,
        lambda r: r["max_abs_err"] < 1e-12,
        lambda r: f"max |by hand - autograd| = {r['max_abs_err']:.1e}",
        ("a",),
    ),
    # 2. Jacobians
    *(_jacobian_claim(item) for item in jacobian_items()),
    # 3. activations
    Claim(
        "3.1",
        "linear layers without activations collapse into one linear layer; with tanh they do not",
        linear_layers_collapse,
        lambda r: (
            r["linear_stack_vs_one_layer"] < 1e-9 and r["tanh_stack_best_affine_rms_residual"] > 0.1
        ),
        lambda r: (
            f"stack vs one layer {r['linear_stack_vs_one_layer']:.1e}; tanh stack, best affine "
            "fit: RMS "
            f"residual {r['tanh_stack_best_affine_rms_residual']:.2f} (of RMS "
            f"{r['tanh_stack_rms']:.2f})"
        ),
        "to make the network non-linear; without them any stack of layers is one affine map.",
    ),
    *(
        Claim(
            "3.2",
            f"derivatives of sigmoid, tanh, ReLU, LeakyReLU({slope:g}), GELU match autograd",
            functools.partial(check_activation_derivatives, slope),
            lambda errs: max(errs.values()) < 1e-12,
            lambda errs: ", ".join(f"{k} {v:.1e}" for k, v in errs.items()),
        )
        for slope in (LEAKY_SLOPE, 0.2)
    ),
    Claim(
        "3.3",
        "the derivative through 10 layers: sigmoid and tanh vanish, ReLU passes 1 or 0",
        vanishing_chain,
        _vanishing_holds,
        lambda r: (
            f"max |d/dx|: sigmoid {r['sigmoid']:.1e} (bound 0.25^{r['depth']} = "
            f"{0.25 ** r['depth']:.1e}), "
            f"tanh at x = 2: {r['tanh_at_2']:.1e}, ReLU 1 for x > 0 and 0 for x < 0"
        ),
        "gradients that shrink geometrically with depth, so early layers barely learn; "
        "sigmoid and tanh suffer "
        "from it, ReLU only on its dead side.",
    ),
    Claim(
        "3.4",
        "with sigmoid inputs every per-example gradient row of the next layer is single-signed",
        zero_centred_check,
        _zero_centred_holds,
        _zero_centred_numbers,
        "with all-positive inputs (sigmoid) the weights into a unit all get gradients of one "
        "sign, so descent "
        "zig-zags; zero-centred inputs (tanh) avoid it.",
    ),
    Claim(
        "3.5",
        "softmax Jacobian diag(s) - s s^T = s_i(delta_ij - s_j); symmetric; rows sum to 0",
        softmax_checks,
        lambda s: (
            s["max_abs_err"] < 1e-12
            and s["elementwise_err"] < 1e-12
            and s["asymmetry"] == 0
            and s["max_abs_row_sum"] < 1e-12
        ),
        lambda s: (
            f"err {s['max_abs_err']:.1e}, asymmetry {s['asymmetry']:.1e}, row sums "
            f"{s['max_abs_row_sum']:.1e}"
        ),
    ),
    # 4. XOR
    Claim(
        "4.1",
        "no single ReLU unit represents XOR (grid search and gradient descent)",
        xor_single_layer_search,
        lambda r: (
            r["grid_exact_solutions"] == 0
            and r["grid_best_max_abs_err"] >= XOR_MONOTONE_MAX_ERR_BOUND - 1e-12
            and r["gd_best_mse"] >= XOR_MONOTONE_MSE_BOUND - 1e-9
        ),
        lambda r: (
            f"grid of {r['grid_points']}: best max error {r['grid_best_max_abs_err']:.3f}, "
            "best MSE "
            f"{r['grid_best_mse']:.4f}; GD from {r['gd_inits']} inits: best MSE "
            f"{r['gd_best_mse']:.4f} "
            f"(bound 1/6 = {1 / 6:.4f})"
        ),
        "No.",
    ),
    Claim(
        "4.2",
        "W1=[[1,1],[1,1]], b1=[1,-1], W2=[1,-2], b2=-1 computes XOR exactly",
        xor_two_layer,
        lambda r: r["max_abs_err"] == 0.0,
        lambda r: f"outputs {r['outputs']} (hidden {r['hidden']})",
    ),
    *(
        Claim(
            "4.3",
            f"all-zero init, {loss} loss: W1, b1, W2 stay 0, one output for all four inputs",
            functools.partial(xor_constant_init_training, "relu", 0.0, loss=loss),
            lambda r: (
                r["max_abs_W1"] == 0
                and r["max_abs_W2"] == 0
                and r["max_abs_b1"] == 0
                and len(set(r["outputs"])) == 1
            ),
            lambda r: (
                f"|W1|max={r['max_abs_W1']}, |W2|max={r['max_abs_W2']}, b2 = {r['b2']:.4f}, "
                f"outputs {[round(o, 4) for o in r['outputs']]}"
            ),
            "only $b_2$ moves, so the four outputs stay equal and XOR is not learned.",
        )
        for loss in LOSSES
    ),
    *(_xor_constant_claim(act) for act in ("sigmoid", "tanh", "relu")),
    Claim(
        "4.4",
        "contrast: the same network and trainer from a random init fits XOR (tanh)",
        xor_random_init_training,
        lambda c: c["loss_last"] < 1e-6 and c["spread"] > 0.1,
        lambda c: f"final loss {c['loss_last']:.1e}, spread {c['spread']:.2f}",
    ),
    Claim(
        "4.4",
        "not monotone: from constant init 0.5, gradient descent with GELU units learns XOR",
        functools.partial(xor_constant_init_training, "gelu", 0.5, steps=2000),
        lambda r: r["spread"] == 0 and r["loss_last"] < 1e-3,
        lambda r: (
            f"spread {r['spread']}, final loss {r['loss_last']:.1e}, outputs "
            f"{[round(o, 3) for o in r['outputs']]}"
        ),
        ANSWER_4_4,
    ),
    Claim(
        "4.4",
        "not monotone: identical GELU units can fit XOR exactly",
        xor_gelu_identical_units,
        lambda r: r["spread"] == 0 and r["max_abs_err"] < 1e-9,
        lambda r: f"outputs {[round(o, 9) for o in r['outputs']]}",
        ANSWER_4_4,
    ),
    # 5. computation graph
    Claim(
        "5.2",
        "forward h1 = 0, h2 = e^3, h3 = 2e^3, f = 2e^3; backward df/dx = 1, df/dy = 2e^3, "
        "df/dz = e^3 "
        "(hand chain rule = autograd)",
        computation_graph_values,
        _graph_holds,
        lambda v: ", ".join(f"{k}={x:.4f}" for k, x in {**v["forward"], **v["chain"]}.items()),
    ),
]


@dataclass
class CheckResult:
    section: str
    claim: str
    passed: bool
    numbers: str
    extra: dict = field(default_factory=dict, repr=False)


def run_all_checks() -> list[CheckResult]:
    """Evaluate every claim of CLAIMS (a few seconds on CPU); one CheckResult per claim."""
    results = []
    for claim in CLAIMS:
        value = claim.compute()
        results.append(
            CheckResult(
                claim.item.split(".")[0],
                f"{claim.item} {claim.statement}",
                bool(claim.holds(value)),
                claim.numbers(value),
            )
        )
    return results
