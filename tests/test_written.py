"""Tests for written.py: every answer of hw3.md sections 1-5 against an independent reference.

The reference is computed HERE, not taken from written.py: torch.autograd in float64 for every
closed form (micrograd's test style), central differences where a second opinion is cheap
(CS231n's gradient check), or a direct count.  A few "rejects_*" tests feed a known-wrong answer
(the mistakes of the worked answers we received) to the same checks and expect them to fail.
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

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import written  # noqa: E402

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


@pytest.mark.parametrize("dims", [dict(n=5, d=3, k=4, i=2, seed=0), dict(n=3, d=6, k=2, i=0, seed=7)])
@pytest.mark.parametrize("name", list(ITEMS))
def test_jacobian_closed_form_matches_autograd(name, dims):
    """Rejects a transposed answer (x_i for Q2.3, X^T, W^T), a missing factor (w^T for Q2.4), a
    missing sigmoid' factor in Q2.5, a wrong delta index in Q2.6/Q2.7 (shape or values differ)."""
    item, P = ITEMS[name], written.jacobian_problem(**dims)
    fn, inp = item.f(P)
    ref = reference_jacobian(fn, inp)
    ours = item.closed_form(P)
    assert tuple(ours.shape) == tuple(ref.shape) == tuple(item.shape(P)), (name, ours.shape, ref.shape)
    torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-12)


def test_jacobian_stated_shapes():
    """The shapes written in hw3.md, with n=5, d=3, k=4."""
    P = written.jacobian_problem(n=5, d=3, k=4)
    got = {name: tuple(it.shape(P)) for name, it in ITEMS.items()}
    assert got == {"Q2.1": (5, 3), "Q2.2": (4, 3), "Q2.3": (1, 3), "Q2.4": (1, 3), "Q2.5": (5, 3),
                   "Q2.6": (4, 4, 3), "Q2.7 (extra credit)": (5, 4, 4, 3)}


@pytest.mark.parametrize("name, wrong", [
    ("Q2.3", lambda P: P["x_i"].clone()),                      # the worked answer's x^T read as x_i: d x 1
    ("Q2.3", lambda P: P["X"][:1].clone() if P["i"] != 0 else P["X"][1:2].clone()),  # x^T of the wrong row
    ("Q2.4", lambda P: P["w"].T.clone()),                       # missing factor 2
    ("Q2.5", lambda P: torch.sigmoid(P["X"] @ P["w"]) * P["X"]),  # sigmoid instead of sigmoid'
    ("Q2.1", lambda P: -P["X"]),                                # wrong sign
    ("Q2.7 (extra credit)", lambda P: torch.einsum("ab,ic->iabc", torch.ones(4, 4, dtype=D), P["X"])),  # no delta_ab
    ("Q2.6", lambda P: torch.einsum("ab,c->abc", torch.eye(4, dtype=D), P["X"][P["i"] - 1])),  # a wrong row
])
def test_rejects_wrong_jacobians(name, wrong):
    item = ITEMS[name]
    bad = written.JacobianItem(item.item, item.expression, "wrong", item.shape_text, item.f, wrong, item.shape)
    assert not written.check_jacobian(bad, written.jacobian_problem())["ok"]
    assert written.check_jacobian(item, written.jacobian_problem())["ok"]


# ------------------------------------------------------------------------------ 3. activations
@pytest.mark.parametrize("slope", [written.LEAKY_SLOPE, 0.01])
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
    torch.testing.assert_close(written.gelu_exact(x), torch.nn.functional.gelu(x), rtol=1e-12, atol=1e-14)


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
            assert math.isclose(J[i, j].item(), s[i].item() * ((i == j) - s[j].item()), abs_tol=1e-15)
    assert torch.equal(J, J.T)
    assert J.sum(1).abs().max() < 1e-14 and J.sum(0).abs().max() < 1e-14
    r = written.softmax_checks(seed=seed)
    assert r["max_abs_err"] < 1e-12 and r["asymmetry"] == 0 and r["max_abs_row_sum"] < 1e-12


def test_sigmoid_is_not_zero_centred_but_tanh_is():
    """Rejects the worked answer's Q3.4 ('sigmoid is zero-centred')."""
    x = written.activation_grid()
    assert torch.sigmoid(torch.zeros((), dtype=D)).item() == 0.5
    assert (torch.sigmoid(x) > 0).all()
    torch.testing.assert_close(torch.tanh(-x), -torch.tanh(x))
    z = written.zero_centred_check()
    assert abs(z["sigmoid_mean"] - 0.5) < 1e-12 and abs(z["tanh_mean"]) < 1e-12 and z["tanh_at_0"] == 0
    assert z["sigmoid_min"] > 0 and z["tanh_min"] < -0.99
    # all-positive inputs make every per-example weight-gradient row single-signed; tanh inputs don't
    assert z["single_sign_rows_sigmoid"] == 1.0 and z["single_sign_rows_tanh"] < 0.5
    assert math.isclose(z["sigmoid_max_grad"], 0.25) and math.isclose(z["tanh_max_grad"], 1.0)
    assert written.vanishing_product(10)["sigmoid_bound"] == 0.25 ** 10


# ------------------------------------------------------------------------------ 1. concepts
@pytest.mark.parametrize("activation, value", [("sigmoid", 0.0), ("tanh", 0.0), ("sigmoid", 0.3), ("tanh", -0.2)])
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
    """Rejects the worked answer's Q1.5 (dropout off 'during training') and un-scaled dropout."""
    state = torch.random.get_rng_state()
    r = written.dropout_demo(p=0.5)
    assert torch.equal(state, torch.random.get_rng_state())  # forked RNG: no global side effect
    assert r["train_outputs_differ"] and r["eval_outputs_equal"] and r["eval_is_identity"]
    assert r["train_kept_value"] == 2.0 and 0.45 < r["train_zero_fraction"] < 0.55
    assert abs(r["inverted_mean"] - 1.0) < 0.01 and abs(r["unscaled_mean"] - 0.5) < 0.01


def test_sigmoid_saturation_gradient_collapses():
    rows = written.sigmoid_saturation_grads()
    norms = [r["grad_norm"] for r in rows]
    assert all(a > b for a, b in zip(norms, norms[1:]))
    assert norms[-1] < 1e-9 * norms[0]
    assert rows[-1]["mean_output"] > 1 - 1e-9
    # independent closed form for one scale: d sum(sigmoid(Wx)) / dW = (s (1 - s)) x^T
    g = torch.Generator().manual_seed(0)
    x = torch.rand(10, generator=g, dtype=D) * 0.5 + 0.5
    W = 2.0 * torch.randn(4, 10, generator=g, dtype=D).abs()
    s = torch.sigmoid(W @ x)
    assert math.isclose(torch.outer(s * (1 - s), x).norm().item(), norms[3], rel_tol=1e-12)


def test_residual_connection_carries_gradient_to_first_layer():
    r = written.residual_gradient_norms(depth=30)
    assert r["residual_first_grad"] > 1e3 * r["plain_first_grad"]
    shallow = written.residual_gradient_norms(depth=2)
    assert shallow["ratio"] < 10  # the gap comes from depth, not from the shortcut itself


def test_multiple_choice_items_are_backed_by_checks():
    for mc in written.MULTIPLE_CHOICE:
        assert set(mc.answer) <= set(mc.options), mc.item
        assert callable(getattr(written, mc.check)), mc.check
    dropout = next(mc for mc in written.MULTIPLE_CHOICE if mc.item == "Q1.5")
    assert dropout.answer == ("B",) and "evaluation" in dropout.options["B"]
    zero = next(mc for mc in written.MULTIPLE_CHOICE if mc.item == "Q1.4")
    assert zero.answer == ("B",) and zero.options["B"] == "tanh"


# ------------------------------------------------------------------------------ 4. XOR
def test_xor_single_relu_unit_has_no_solution():
    """No (w1, w2, b) on a 49^3 grid is exact; the best max error and MSE respect the proof's
    bounds (1/2, 1/6) for any monotone function of one projection; GD from 64 inits agrees."""
    r = written.xor_single_layer_search()
    assert r["grid_exact_solutions"] == 0
    assert r["grid_best_max_abs_err"] >= 0.5 - 1e-12
    assert r["grid_best_mse"] >= 1 / 6 - 1e-12 and r["gd_best_mse"] >= 1 / 6 - 1e-9


def test_xor_proof_algebra():
    """The proof's step: w1 + b = w2 + b = 1 and b <= 0 force ReLU(w1 + w2 + b) = 2 - b >= 2."""
    for b in torch.linspace(-5, 0, 11, dtype=D):
        w1 = w2 = 1 - b
        assert torch.relu(w1 + w2 + b).item() == pytest.approx(2 - b.item()) and 2 - b >= 2


def test_xor_two_layer_network_is_exact():
    r = written.xor_two_layer()
    assert r["outputs"] == [0.0, 1.0, 1.0, 0.0] and r["max_abs_err"] == 0.0
    assert r["hidden"] == [[1.0, 0.0], [2.0, 0.0], [2.0, 0.0], [3.0, 1.0]]
    # the same network with a sign flipped in W2 or b2 is not XOR
    assert written.xor_two_layer(W2=(1.0, 2.0))["max_abs_err"] > 0.5
    assert written.xor_two_layer(b2=1.0)["max_abs_err"] > 0.5


def test_xor_zero_init_never_learns():
    r = written.xor_constant_init_training("relu", 0.0, steps=300)
    assert r["max_abs_W1"] == 0.0 and r["max_abs_b1"] == 0.0 and r["max_abs_W2"] == 0.0
    assert r["outputs"] == pytest.approx([0.5] * 4, abs=1e-9)  # only b2 learns: the mean target
    assert r["loss_last"] == pytest.approx(0.25, abs=1e-9)


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
@pytest.mark.parametrize("value", [0.5, -0.3])
def test_xor_constant_init_units_stay_identical(activation, value):
    r = written.xor_constant_init_training(activation, value, steps=300)
    assert r["spread"] <= 1e-12
    assert r["loss_min"] >= written.XOR_MONOTONE_MSE_BOUND - 1e-9


def test_xor_random_init_contrast_fits():
    r = written.xor_random_init_training("tanh")
    assert r["loss_last"] < 1e-6 and r["spread"] > 0.1


def test_xor_identical_gelu_units_can_fit():
    """The monotonicity condition in Q4.4 is needed: GELU (not monotone) breaks the argument."""
    r = written.xor_gelu_identical_units()
    assert r["spread"] == 0 and r["max_abs_err"] < 1e-9
    x = torch.linspace(-3, 0, 3001, dtype=D)
    assert (written.gelu_exact(x).diff() < 0).any()  # GELU decreases somewhere: not monotone


# ------------------------------------------------------------------------------ 5. computation graph
def test_computation_graph_forward_and_backward():
    """Rejects the worked answer's Q5.4 chain (with dh2/dh2 = 1 in place of dh3/dh2 = z it gives
    e^3, not 2e^3) and any wrong forward value."""
    v = written.computation_graph_values()
    x, y, z = (torch.tensor(t, dtype=D, requires_grad=True) for t in (1.0, 3.0, 2.0))
    f = torch.log(x) + torch.exp(y) * z
    f.backward()
    e3 = math.exp(3)
    assert v["forward"]["h1"] == 0.0
    assert v["forward"]["h2"] == pytest.approx(e3, rel=1e-14)
    assert v["forward"]["h3"] == pytest.approx(2 * e3, rel=1e-14)
    assert v["forward"]["f"] == pytest.approx(f.item(), rel=1e-14) == pytest.approx(2 * e3, rel=1e-14)
    for name, ref in (("df/dx", x.grad), ("df/dy", y.grad), ("df/dz", z.grad)):
        assert v["chain"][name] == pytest.approx(ref.item(), rel=1e-14)
        assert v["autograd"][name] == pytest.approx(ref.item(), rel=1e-14)
    assert v["chain"]["df/dx"] == 1.0
    assert v["chain"]["df/dy"] == pytest.approx(2 * e3, rel=1e-14)
    assert v["chain"]["df/dz"] == pytest.approx(e3, rel=1e-14)
    loc = v["local"]
    assert (loc["dh1/dx"], loc["dh3/dh2"], loc["df/dh1"], loc["df/dh3"]) == (1.0, 2.0, 1.0, 1.0)
    assert loc["dh2/dy"] == pytest.approx(e3) and loc["dh3/dz"] == pytest.approx(e3)
    wrong_chain = loc["df/dh3"] * 1.0 * loc["dh2/dy"]  # dh2/dh2 = 1 in place of dh3/dh2
    assert wrong_chain != pytest.approx(y.grad.item())
    for k in ("df/dh1", "df/dh2", "df/dh3"):
        assert v["chain"][k] == v["autograd"][k]


# ------------------------------------------------------------------------------ entry points
def test_run_all_checks_all_pass():
    results = written.run_all_checks()
    assert {r.section for r in results} == {"1", "2", "3", "4", "5"}
    assert all(r.passed for r in results), [(r.claim, r.numbers) for r in results if not r.passed]


def test_main_prints_report_and_draws_both_figures(tmp_path, capsys, monkeypatch):
    """main's plumbing (the checks themselves are tested above): every result is printed with
    PASS/FAIL, both figures are written atomically, and a failed check exits with status 1."""
    ok = written.CheckResult("1", "a true claim", True, "numbers 1")
    monkeypatch.setattr(written, "run_all_checks", lambda: [ok])
    assert written.main(types.SimpleNamespace(out_dir=tmp_path)) == [ok]
    out = capsys.readouterr().out
    assert "[PASS] a true claim" in out and "numbers 1" in out and "1/1 checks passed" in out
    for name in ("activations.png", "computation_graph.png"):
        data = (tmp_path / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
    assert not list(tmp_path.glob(".*.tmp"))
    bad = written.CheckResult("4", "a false claim", False, "numbers 2")
    monkeypatch.setattr(written, "run_all_checks", lambda: [ok, bad])
    monkeypatch.setattr(written, "make_figures", lambda out_dir: [])
    with pytest.raises(SystemExit) as exc:
        written.main(types.SimpleNamespace(out_dir=tmp_path))
    assert exc.value.code == 1 and "[FAIL] a false claim" in capsys.readouterr().out


def test_import_has_no_side_effects():
    """Top-level imports are torch only (matplotlib is imported inside the figure functions), and
    executing the module leaves the RNG, thread count and default dtype alone."""
    tree = ast.parse((REPO / "written.py").read_text())
    top = {alias.name.split(".")[0] for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))
           for alias in (node.names if isinstance(node, ast.Import) else [types.SimpleNamespace(name=node.module or "")])}
    assert "matplotlib" not in top and "utils" not in top
    state, threads = torch.random.get_rng_state(), torch.get_num_threads()
    importlib.reload(written)
    assert torch.equal(state, torch.random.get_rng_state())
    assert torch.get_num_threads() == threads and torch.get_default_dtype() == torch.float32
