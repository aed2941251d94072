"""Tests for written/answers.py: every answer of hw3.md sections 1-5 against an independent
reference.

The reference is computed HERE, not taken from written/answers.py: torch.autograd in float64 for
every closed form, central differences where a second opinion is cheap, numpy closed forms for the
figures, or a direct count.  The "rejects_*" tests feed known-wrong answers to the same checks and
expect them to fail.  tests/written/test_hw3_md.py holds hw3.md to these answers item by item.
"""

from __future__ import annotations

import ast
import importlib
import math
import sys
import types
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import main  # noqa: E402
from written import figures  # noqa: E402
from written import answers as written  # noqa: E402

D = torch.float64


def index_shape(shape):
    """A column vector (m x 1) carries one index; see written's module docstring."""
    return (shape[0],) if len(shape) == 2 and shape[1] == 1 else tuple(shape)


def reference_jacobian(fn, inp):
    out = fn(inp)
    J = torch.autograd.functional.jacobian(fn, inp)
    return J.reshape(index_shape(out.shape) + index_shape(inp.shape))


# ------------------------------------------------------------------------------ 2. Jacobians
ITEMS = {it.item: it for it in written.jacobian_items()}


@pytest.mark.parametrize(
    "dims", [dict(n=5, d=3, k=4, i=2, seed=0), dict(n=3, d=6, k=2, i=0, seed=7)]
)
@pytest.mark.parametrize("name", list(ITEMS))
def test_jacobian_closed_form_matches_autograd(name, dims):
    """Rejects a transposed answer (x_i for 2.3, X^T for 2.4), a missing factor (w^T for 2.2), a row
    instead of a diagonal in 2.6, a missing delta in 2.7 (shape or values differ)."""
    item, P = ITEMS[name], written.jacobian_problem(**dims)
    fn, inp = item.f(P)
    ref = reference_jacobian(fn, inp)
    ours = item.closed_form(P)
    assert tuple(ours.shape) == tuple(ref.shape) == tuple(item.shape(P)), (
        name,
        ours.shape,
        ref.shape,
    )
    torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-12)


def test_jacobian_stated_shapes():
    """The shapes written in hw3.md (output shape x input shape), with n=5, d=3, k=4."""
    P = written.jacobian_problem(n=5, d=3, k=4)
    got = {name: tuple(it.shape(P)) for name, it in ITEMS.items()}
    assert got == {
        "2.1": (1, 3),
        "2.2": (1, 3),
        "2.3": (1, 3),
        "2.4": (5, 3),
        "2.5": (3, 3),
        "2.6": (3, 3),
        "2.7": (5, 4, 4, 3),
    }
    assert [it.shape_text for it in ITEMS.values()] == [
        "1 x d",
        "1 x d",
        "1 x d",
        "n x d",
        "d x d",
        "d x d",
        "(n x k) x (k x d)",
    ]


@pytest.mark.parametrize(
    "name, wrong",
    [
        # the constant, not its slope
        (
            "2.1",
            lambda P: torch.full((1, 3), written.JACOBIAN_CONSTANT, dtype=D),
        ),
        ("2.2", lambda P: P["w"].T.clone()),  # missing factor 2
        ("2.3", lambda P: P["x_i"].clone()),  # x_i (d x 1) instead of x_i^T
        # x^T of the wrong row
        (
            "2.3",
            lambda P: P["X"][:1].clone() if P["i"] != 0 else P["X"][1:2].clone(),
        ),
        ("2.4", lambda P: P["X"].T.clone()),  # transposed: d x n
        ("2.5", lambda P: torch.ones(3, 3, dtype=D)),  # all ones instead of the identity
        ("2.6", lambda P: 2 * P["w"].T),  # 2 w^T: a row, not diag(2w)
        # no delta_ab
        (
            "2.7",
            lambda P: torch.einsum("ab,ic->iabc", torch.ones(4, 4, dtype=D), P["X"]),
        ),
    ],
)
def test_rejects_wrong_jacobians(name, wrong):
    item = ITEMS[name]
    bad = written.JacobianItem(
        item.item, item.expression, "wrong", item.shape_text, item.f, wrong, item.shape
    )
    assert not written.check_jacobian(bad, written.jacobian_problem())["ok"]
    assert written.check_jacobian(item, written.jacobian_problem())["ok"]


# ------------------------------------------------------------------------------ 3. activations
@pytest.mark.parametrize("slope", [written.LEAKY_SLOPE, 0.2])
@pytest.mark.parametrize("name", ["sigmoid", "tanh", "relu", "leaky_relu", "gelu"])
def test_activation_derivative_matches_autograd(name, slope):
    """Rejects e.g. sigmoid' = s (missing 1-s), tanh' = 1 - tanh, ReLU'(0) = 1, a LeakyReLU slope
    of 0 on the left, GELU' = Phi(x) (missing x phi(x)).  The grid contains x = 0 exactly."""
    f, df = written.activation_derivatives(slope)[name]
    x = written.activation_grid().clone().requires_grad_(True)
    (ref,) = torch.autograd.grad(f(x).sum(), x)
    assert (x.detach() == 0).any()
    torch.testing.assert_close(df(x.detach()), ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "relu", "leaky_relu", "gelu"])
def test_activation_derivative_central_differences(name):
    """CS231n-style numeric check, away from the kink at 0."""
    f, df = written.activation_derivatives()[name]
    x = torch.linspace(-5.05, 5.05, 102, dtype=D)
    h = 1e-6
    numeric = (f(x + h) - f(x - h)) / (2 * h)
    torch.testing.assert_close(df(x), numeric, rtol=1e-6, atol=1e-8)


def test_gelu_is_torch_default_gelu():
    x = written.activation_grid()
    torch.testing.assert_close(
        written.gelu_exact(x), torch.nn.functional.gelu(x), rtol=1e-12, atol=1e-14
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_softmax_jacobian(seed):
    """Rejects diag(s) + s s^T, s s^T - diag(s), or diag(s) alone: values, symmetry and row sums."""
    z = torch.randn(5, generator=torch.Generator().manual_seed(seed), dtype=D) * 3
    J = written.softmax_jacobian(z)
    ref = torch.autograd.functional.jacobian(lambda t: torch.softmax(t, 0), z)
    torch.testing.assert_close(J, ref, rtol=1e-12, atol=1e-14)
    s = torch.softmax(z, 0)
    for i in range(5):
        for j in range(5):
            assert math.isclose(
                J[i, j].item(), s[i].item() * ((i == j) - s[j].item()), abs_tol=1e-15
            )
    assert torch.equal(J, J.T)
    assert J.sum(1).abs().max() < 1e-14 and J.sum(0).abs().max() < 1e-14
    r = written.softmax_checks(seed=seed)
    assert r["max_abs_err"] < 1e-12 and r["asymmetry"] == 0 and r["max_abs_row_sum"] < 1e-12


def test_sigmoid_is_not_zero_centred_but_tanh_is():
    """1.3 and 3.4 beyond their claim (test_claim): the mean over the grid against numpy's sigmoid
    and tanh."""
    import numpy as np

    z = written.zero_centred_check()
    grid = written.activation_grid().numpy()
    assert z["sigmoid_mean"] == pytest.approx(np.mean(1 / (1 + np.exp(-grid))), abs=1e-12)
    assert (
        z["tanh_mean"] == pytest.approx(np.mean(np.tanh(grid)), abs=1e-12) and z["tanh_at_0"] == 0
    )


def test_vanishing_chain():
    """3.3: through 10 sigmoid layers the derivative is a product of 10 factors <= 1/4; ReLU's is 1
    on its live side and exactly 0 on its dead side.  Reference: the product of closed-form
    derivatives."""
    r = written.vanishing_chain(depth=10)
    h, prod = 2.0, 1.0
    for _ in range(10):
        s = 1 / (1 + math.exp(-h))
        prod *= s * (1 - s)
        h = s
    assert r["sigmoid_at_2"] == pytest.approx(prod, rel=1e-10)
    assert r["sigmoid"] <= 0.25**10
    h, prod = 2.0, 1.0
    for _ in range(10):
        prod *= 1 - math.tanh(h) ** 2
        h = math.tanh(h)
    assert r["tanh_at_2"] == pytest.approx(prod, rel=1e-10) and r["tanh_at_2"] < 0.01
    assert (
        r["relu_negative_side"] == 0.0
        and r["relu_positive_side_min"] == 1.0
        and r["relu_at_2"] == 1.0
    )


@pytest.mark.parametrize("name", list(written.ACTIVATION_LIMITS))
def test_activation_limits(name):
    """The limits Figure 1 states, against the closed forms at x = -+40 (finite limits) or their
    growth."""
    f, df = written.activation_derivatives()[name]
    far = torch.tensor([-40.0, 40.0], dtype=D)
    for fn, (low, high) in (
        (f, written.ACTIVATION_LIMITS[name]["f"]),
        (df, written.ACTIVATION_LIMITS[name]["df"]),
    ):
        values, farther = fn(far), fn(10 * far)
        for value, further, limit in zip(values.tolist(), farther.tolist(), (low, high)):
            # unbounded: far out, the value has the limit's sign and grows tenfold
            if math.isinf(limit):
                assert math.copysign(1, value) == math.copysign(
                    1, limit
                ) and further == pytest.approx(10 * value)
            else:
                assert value == pytest.approx(limit, abs=1e-9)


def test_figure_1_draws_the_closed_forms_and_states_the_limits():
    """Each panel's two curves are the activation and its derivative (numpy closed forms here), and
    the limits as x -> -+inf are written on the panel."""
    import numpy as np
    import matplotlib.pyplot as plt

    fig = figures.figure_activations()
    try:
        reference = {
            "sigmoid": (
                lambda x: 1 / (1 + np.exp(-x)),
                lambda x: np.exp(-x) / (1 + np.exp(-x)) ** 2,
            ),
            "tanh": (np.tanh, lambda x: 1 / np.cosh(x) ** 2),
            "relu": (lambda x: np.maximum(x, 0), lambda x: (x > 0).astype(float)),
        }
        panels = {ax.get_label(): ax for ax in fig.axes}
        for name, (f, df) in reference.items():
            ax = panels[name]
            lines = {line.get_label(): line for line in ax.get_lines()}
            x = np.asarray(lines["f(x)"].get_xdata(), dtype=float)
            assert np.nanmin(x) <= -6 and np.nanmax(x) >= 6
            np.testing.assert_allclose(lines["f(x)"].get_ydata(), f(x), rtol=1e-12, atol=1e-12)
            dx = np.asarray(lines["f'(x)"].get_xdata(), dtype=float)
            dy = np.asarray(lines["f'(x)"].get_ydata(), dtype=float)
            drawn = np.isfinite(dy)
            assert drawn.sum() == len(x)  # every grid point, the breaks added as NaN
            np.testing.assert_allclose(dy[drawn], df(dx[drawn]), rtol=1e-10, atol=1e-12)
            # a jump is a gap: no segment joins two neighbouring points whose values jump
            steps = np.abs(np.diff(dy))
            assert not (steps[np.isfinite(steps)] > figures.JUMP).any(), name
            texts = {t.get_gid(): t.get_text() for t in ax.texts}
            assert texts[f"limits:{name}"] == written.limits_caption(name)
        for ax in fig.axes:  # the all-derivatives panel too: every line is broken at its jumps
            for line in ax.get_lines():
                if line.get_label().startswith("_"):  # the axes at 0 and the jumps' markers
                    continue
                steps = np.abs(np.diff(np.asarray(line.get_ydata(), dtype=float)))
                assert not (steps[np.isfinite(steps)] > 0.5).any(), (
                    ax.get_label(),
                    line.get_label(),
                )
        relu_lines = {line.get_label(): line for line in panels["all derivatives"].get_lines()}
        assert relu_lines["ReLU"].get_linestyle() != relu_lines["LeakyReLU"].get_linestyle()
        assert "x -> -inf: f -> 0, f' -> 0;  x -> +inf: f -> 1, f' -> 0" == written.limits_caption(
            "sigmoid"
        )
        assert "x -> -inf: f -> -1, f' -> 0;  x -> +inf: f -> 1, f' -> 0" == written.limits_caption(
            "tanh"
        )
        assert (
            "x -> -inf: f -> 0, f' -> 0;  x -> +inf: f -> +inf, f' -> 1"
            == written.limits_caption("relu")
        )
    finally:
        plt.close(fig)


def test_figure_2_shows_the_graph_with_its_values():
    """Nodes x, y, z, h1, h2, h3, f with their forward values and gradients at (1, 3, 2), computed
    here with math; edges carry the local derivatives."""
    import matplotlib.pyplot as plt

    fig = figures.figure_computation_graph()
    try:
        texts = {t.get_gid(): t.get_text() for t in fig.axes[0].texts if t.get_gid()}
    finally:
        plt.close(fig)
    e3 = math.exp(3)
    values = {"x": 1, "y": 3, "z": 2, "h1": math.log(1), "h2": e3, "h3": 2 * e3, "f": 2 * e3}
    grads = {"x": 1, "y": 2 * e3, "z": e3, "h1": 1, "h2": 2, "h3": 1, "f": 1}
    for node in values:
        assert float(texts[f"value:{node}"].split("=")[1]) == pytest.approx(
            values[node], rel=1e-3
        ), node
        assert float(texts[f"grad:{node}"].split("=")[1]) == pytest.approx(grads[node], rel=1e-3), (
            node
        )
    assert texts["label:h1"] == "h1 = ln x" and texts["label:h2"] == "h2 = exp(y)"
    assert texts["label:h3"] == "h3 = h2 * z" and texts["label:f"] == "f = h1 + h3"
    assert {k for k in texts if k.startswith("edge:")} == {
        "edge:x->h1",
        "edge:y->h2",
        "edge:h2->h3",
        "edge:z->h3",
        "edge:h1->f",
        "edge:h3->f",
    }
    assert float(texts["edge:h2->h3"].split("=")[-1]) == 2.0  # dh3/dh2 = z


# ------------------------------------------------------------------------------ 1. concepts
@pytest.mark.parametrize(
    "activation, value", [("sigmoid", 0.0), ("tanh", 0.0), ("sigmoid", 0.3), ("tanh", -0.2)]
)
def test_constant_init_units_stay_identical(activation, value):
    """Rejects 'the data break the symmetry': after real SGD+momentum steps the units are copies,
    while the same training from a random init ends with distinct units."""
    r = written.constant_init_mlp_symmetry(activation, value, steps=60)
    assert r["spread_before"] == 0 and r["spread_after"] <= 1e-12
    assert r["random_init_spread_after"] > 1e-2
    if activation == "tanh" and value == 0.0:
        assert r["w1_moved"] == 0.0  # tanh(0) = 0: W2 gets no gradient, W1 gets W2 * ... = 0
    else:
        assert r["w1_moved"] > 1e-3  # the units do learn, just all the same thing
    assert r["loss_last"] < r["loss_first"]


def test_dropout_train_vs_eval():
    """1.5 beyond its claim (test_claim): the global RNG is left alone, and kept units are scaled by
    exactly 1/(1-p) with about p of them dropped."""
    state = torch.random.get_rng_state()
    r = written.dropout_demo(p=0.5)
    assert torch.equal(state, torch.random.get_rng_state())  # forked RNG: no global side effect
    assert r["train_kept_value"] == 2.0 and 0.45 < r["train_zero_fraction"] < 0.55


def test_sigmoid_saturation_gradient_collapses():
    """The claim's gradient norms (test_claim: they collapse) against an independent closed form."""
    rows = written.sigmoid_saturation_grads()
    norms = [r["grad_norm"] for r in rows]
    assert rows[-1]["mean_output"] > 1 - 1e-9
    # independent closed form for one scale: d sum(sigmoid(Wx)) / dW = (s (1 - s)) x^T
    g = torch.Generator().manual_seed(0)
    x = torch.rand(10, generator=g, dtype=D) * 0.5 + 0.5
    W = 2.0 * torch.randn(4, 10, generator=g, dtype=D).abs()
    s = torch.sigmoid(W @ x)
    assert math.isclose(torch.outer(s * (1 - s), x).norm().item(), norms[3], rel_tol=1e-12)


def test_residual_connection_carries_gradient_to_first_layer():
    """The claim (test_claim) is the gap at depth 30; here, that the gap comes from depth."""
    shallow = written.residual_gradient_norms(depth=2)
    assert shallow["ratio"] < 10  # the gap comes from depth, not from the shortcut itself


def test_backward_uses_the_forward_cache():
    """1.9 (a): the backward pass reads only the forward pass's cache (x, W, a); the claim of
    written/answers.py that its gradients equal autograd's is asserted by test_claim."""
    assert written.forward_cache_backprop()["cache"] == ("x", "W", "a")


def test_closed_answers_are_the_handouts_right_boxes():
    """The answers as data, against the right boxes written down here (a changed answer fails), and
    every named check is a function of written/answers.py."""
    expected = {
        "1.1": ("a",),
        "1.2": False,
        "1.3": True,
        "1.4": ("d",),
        "1.9": ("a",),
        "1.10": ("a",),
    }
    assert {k: a.answer for k, a in written.CLOSED_ANSWERS.items()} == expected
    assert written.CLOSED_ANSWERS["1.4"].options["d"] == "None of the above"
    for a in written.CLOSED_ANSWERS.values():
        if isinstance(a.answer, tuple):
            assert set(a.answer) <= set(a.options), a.item
        assert a.check is None or callable(getattr(written, a.check)), a.check


# ------------------------------------------------------------------------------ 4. XOR
def test_xor_single_relu_unit_has_no_solution():
    """No (w1, w2, b) on a 49^3 grid is exact; the best max error and MSE respect the proof's
    bounds (1/2, 1/6) for any monotone function of one projection; GD from 64 inits agrees."""
    r = written.xor_single_layer_search()
    assert r["grid_exact_solutions"] == 0
    assert r["grid_best_max_abs_err"] >= 0.5 - 1e-12
    assert r["grid_best_mse"] >= 1 / 6 - 1e-12 and r["gd_best_mse"] >= 1 / 6 - 1e-9


def test_xor_two_layer_network_is_exact():
    r = written.xor_two_layer()
    assert r["outputs"] == [0.0, 1.0, 1.0, 0.0] and r["max_abs_err"] == 0.0
    assert r["hidden"] == [[1.0, 0.0], [2.0, 0.0], [2.0, 0.0], [3.0, 1.0]]
    # the same network with a sign flipped in W2 or b2 is not XOR
    assert written.xor_two_layer(W2=(1.0, 2.0))["max_abs_err"] > 0.5
    assert written.xor_two_layer(b2=1.0)["max_abs_err"] > 0.5


@pytest.mark.parametrize("loss", list(written.LOSSES))
def test_xor_zero_init_never_learns(loss):
    """4.3 for several differentiable losses: W1, b1 and W2 never leave 0, only b2 moves, so the
    four inputs get one and the same prediction."""
    r = written.xor_constant_init_training("relu", 0.0, steps=300, loss=loss)
    assert r["max_abs_W1"] == 0.0 and r["max_abs_b1"] == 0.0 and r["max_abs_W2"] == 0.0
    assert len(set(r["outputs"])) == 1 and r["outputs"][0] == r["b2"]
    if loss in ("mse", "huber", "log_cosh"):  # symmetric losses: b2 goes to the mean target, 1/2
        assert r["b2"] == pytest.approx(0.5, abs=1e-6)


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
@pytest.mark.parametrize("value", [0.5, -0.3])
def test_xor_constant_init_units_stay_identical(activation, value):
    """4.4 with a monotone activation: the units stay copies, x1 and x2 stay treated alike, and the
    loss never goes below the 1/6 of the lemma in hw3.md."""
    r = written.xor_constant_init_training(activation, value, steps=300)
    assert r["spread"] <= 1e-12 and r["column_spread"] <= 1e-12
    assert r["loss_min"] >= written.XOR_MONOTONE_MSE_BOUND - 1e-9


@pytest.mark.parametrize("value", [0.5, -0.3])
def test_xor_constant_init_gelu_units_do_learn(value):
    """4.4's condition is needed: GELU is not monotone, and gradient descent from a uniform constant
    learns XOR with units that stay identical."""
    r = written.xor_constant_init_training("gelu", value, steps=2000)
    assert r["spread"] <= 1e-12 and r["column_spread"] <= 1e-12
    assert r["loss_last"] < 1e-3
    assert [round(o) for o in r["outputs"]] == [0, 1, 1, 0]


def test_xor_identical_gelu_units_can_fit():
    """The monotonicity condition in Q4.4 is needed: GELU (not monotone) breaks the argument."""
    x = torch.linspace(-3, 0, 3001, dtype=D)
    assert (written.gelu_exact(x).diff() < 0).any()  # GELU decreases somewhere: not monotone


# ------------------------------------------------------------------------------ 5. computation
# graph
def test_computation_graph_forward_and_backward():
    """5.2-5.4 against autograd in float64 (computed here): a chain with dh3/dh2 = 1 in place of z
    would give e^3 for df/dy, not 2e^3, and fail."""
    v = written.computation_graph_values()
    x, y, z = (torch.tensor(t, dtype=D, requires_grad=True) for t in (1.0, 3.0, 2.0))
    f = torch.log(x) + torch.exp(y) * z
    f.backward()
    e3 = math.exp(3)
    assert v["forward"]["h1"] == 0.0
    assert v["forward"]["h2"] == pytest.approx(e3, rel=1e-14)
    assert v["forward"]["h3"] == pytest.approx(2 * e3, rel=1e-14)
    assert (
        v["forward"]["f"] == pytest.approx(f.item(), rel=1e-14) == pytest.approx(2 * e3, rel=1e-14)
    )
    for name, ref in (("df/dx", x.grad), ("df/dy", y.grad), ("df/dz", z.grad)):
        assert v["chain"][name] == pytest.approx(ref.item(), rel=1e-14)
        assert v["autograd"][name] == pytest.approx(ref.item(), rel=1e-14)
    assert v["chain"]["df/dx"] == 1.0
    assert v["chain"]["df/dy"] == pytest.approx(2 * e3, rel=1e-14)
    assert v["chain"]["df/dz"] == pytest.approx(e3, rel=1e-14)
    loc = v["local"]
    assert (loc["dh1/dx"], loc["dh3/dh2"], loc["df/dh1"], loc["df/dh3"]) == (1.0, 2.0, 1.0, 1.0)
    assert loc["dh2/dy"] == pytest.approx(e3) and loc["dh3/dz"] == pytest.approx(e3)
    for k in ("df/dh1", "df/dh2", "df/dh3"):
        assert v["chain"][k] == v["autograd"][k]


# ------------------------------------------------------------------------------ entry points
@pytest.mark.parametrize(
    "claim", written.CLAIMS, ids=[f"{c.item} {c.statement[:40]}" for c in written.CLAIMS]
)
def test_claim(claim):
    """Every claim of written/answers.py holds by its own threshold (stated once, in
    written.CLAIMS)."""
    value = claim.compute()
    assert claim.holds(value), (claim.item, claim.statement, claim.numbers(value))


def test_claims_cover_sections_1_to_5_and_print_as_checks(monkeypatch):
    assert {c.item.split(".")[0] for c in written.CLAIMS} == {"1", "2", "3", "4", "5"}
    flip = written.Claim(
        "9.9", "a claim that fails", lambda: 1, lambda v: v > 1, lambda v: f"v={v}"
    )
    monkeypatch.setattr(written, "CLAIMS", [flip])
    (result,) = written.run_all_checks()
    assert (
        not result.passed and result.claim == "9.9 a claim that fails" and result.numbers == "v=1"
    )


def test_main_prints_report_and_draws_both_figures(tmp_path, capsys, monkeypatch):
    """`python main.py written`'s plumbing (the checks themselves are tested above): every result is
    printed with PASS/FAIL, both figures are written atomically, and a failed check exits with
    status 1."""
    ok = written.CheckResult("1", "a true claim", True, "numbers 1")
    monkeypatch.setattr(written, "run_all_checks", lambda: [ok])
    assert main.cmd_written(types.SimpleNamespace(out_dir=tmp_path)) == [ok]
    out = capsys.readouterr().out
    assert "[PASS] a true claim" in out and "numbers 1" in out and "1/1 checks passed" in out
    for name in ("activations.png", "computation_graph.png"):
        data = (tmp_path / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
    assert not list(tmp_path.glob(".*.tmp"))
    bad = written.CheckResult("4", "a false claim", False, "numbers 2")
    monkeypatch.setattr(written, "run_all_checks", lambda: [ok, bad])
    monkeypatch.setattr(figures, "make_figures", lambda out_dir: [])
    with pytest.raises(SystemExit) as exc:
        main.cmd_written(types.SimpleNamespace(out_dir=tmp_path))
    assert exc.value.code == 1 and "[FAIL] a false claim" in capsys.readouterr().out


def test_import_has_no_side_effects():
    """Top-level imports are torch only (matplotlib is imported inside the figure functions), and
    executing the module leaves the RNG, thread count and default dtype alone."""
    tree = ast.parse((REPO / "written/answers.py").read_text())
    top = {
        alias.name.split(".")[0]
        for node in tree.body
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in (
            node.names
            if isinstance(node, ast.Import)
            else [types.SimpleNamespace(name=node.module or "")]
        )
    }
    assert "matplotlib" not in top and "utils" not in top
    figures_tree = ast.parse((REPO / "written/figures.py").read_text())
    assert not any(
        isinstance(n, ast.Import) and any(a.name.startswith("matplotlib") for a in n.names)
        for n in figures_tree.body
    )
    state, threads = torch.random.get_rng_state(), torch.get_num_threads()
    importlib.reload(written)
    assert torch.equal(state, torch.random.get_rng_state())
    assert torch.get_num_threads() == threads and torch.get_default_dtype() == torch.float32
