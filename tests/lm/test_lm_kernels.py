"""Tests of nplm/kernels.py alone, against the stock ops in float64: BitDropout, softmax_nll,
adaptive_nll, use_bit_dropout and the FLOP count."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from nplm import kernels as K


def test_bit_dropout_rate_scale_gradient_and_eval_identity():
    drop = K.BitDropout(0.2)
    assert isinstance(drop, nn.Dropout) and drop.p == 0.2
    x = torch.ones(512, 1024, requires_grad=True)
    torch.manual_seed(0)
    out = drop(x)
    dropped = round(0.2 * 65536)
    scale = 65536 / (65536 - dropped)
    kept = out != 0
    # 524,288 draws: 4 sigma is 0.0022
    assert abs((~kept).float().mean().item() - dropped / 65536) < 0.003
    torch.testing.assert_close(out[kept], torch.full_like(out[kept], scale))
    g = torch.randn_like(out)
    out.backward(g)
    # the gradient goes through the kept elements only
    torch.testing.assert_close(x.grad, g * kept * scale)
    torch.manual_seed(0)
    assert torch.equal(drop(x), out)  # same seed, same mask
    odd = torch.ones(3, 5, 7)  # a size that is not a multiple of 4
    assert drop(odd).shape == odd.shape
    assert drop.eval()(x) is x and K.BitDropout(0.0)(x) is x
    assert torch.equal(K.BitDropout(1.0)(odd), torch.zeros_like(odd))


def test_softmax_nll_matches_cross_entropy_in_float64():
    torch.manual_seed(0)
    logits = (3 * torch.randn(7, 11, dtype=torch.float64)).requires_grad_()
    target = torch.randint(0, 11, (7,))
    upstream = torch.randn(7, dtype=torch.float64)
    ref_logits = logits.detach().clone().requires_grad_()
    ref = F.cross_entropy(ref_logits, target, reduction="none")
    got = K.softmax_nll(logits, target)
    torch.testing.assert_close(got, ref)
    (got * upstream).sum().backward()
    (ref * upstream).sum().backward()
    torch.testing.assert_close(logits.grad, ref_logits.grad)
    with torch.no_grad():
        torch.testing.assert_close(K.softmax_nll(logits, target), ref.detach())
    twice = (K.softmax_nll(logits, target) * upstream).sum()
    twice.backward(retain_graph=True)
    with pytest.raises(RuntimeError, match="once per forward"):
        twice.backward()  # would silently be wrong: the first backward overwrote the saved buffer


@pytest.mark.parametrize("targets", [[0, 3, 4, 9, 10, 19, 2, 12], [0, 1, 2, 3, 0, 1, 2, 3]])
def test_adaptive_nll_matches_the_modules_own_loss_in_float64(targets):
    torch.manual_seed(0)
    ours = nn.AdaptiveLogSoftmaxWithLoss(6, 20, [4, 10], div_value=2.0).double()
    ref = nn.AdaptiveLogSoftmaxWithLoss(6, 20, [4, 10], div_value=2.0).double()
    ref.load_state_dict(ours.state_dict())
    hidden = torch.randn(8, 6, dtype=torch.float64)
    targets = torch.tensor(targets)  # the second case leaves both tails empty
    expected = ref(hidden, targets)
    torch.testing.assert_close(
        K.adaptive_nll(ours, hidden, targets, reduction="none"), -expected.output
    )
    torch.testing.assert_close(
        K.adaptive_nll(ours, hidden, targets, reduction="sum"), expected.loss * 8
    )
    loss = K.adaptive_nll(ours, hidden, targets)
    torch.testing.assert_close(loss, expected.loss)
    loss.backward()
    expected.loss.backward()
    for (name, p), q in zip(ours.named_parameters(), ref.parameters()):
        assert (p.grad is None) == (q.grad is None), name
        if p.grad is not None:
            torch.testing.assert_close(p.grad, q.grad, msg=name)
    with pytest.raises(ValueError, match="reduction"):
        K.adaptive_nll(ours, hidden, targets, reduction="max")
    with pytest.raises(ValueError, match=r"word ids in \[0, 20\)"):
        K.adaptive_nll(ours, hidden, torch.full((8,), 20))


class _TinyNPLM(nn.Module):
    """The parts of an NPLM that use_bit_dropout and train_flops_per_token read, without importing
    mlp_lm."""

    def __init__(self, W=3, E=4, H=8, V=100, blocks=2, output_layer="full", cutoffs=(10, 50)):
        super().__init__()
        self.first_layer = nn.Module()
        self.first_layer.linear, self.first_layer.dropout = nn.Linear(W * E, H), nn.Dropout(0.3)
        self.intermediate_layers = nn.ModuleList()
        for _ in range(blocks):
            block = nn.Module()
            block.linear, block.dropout = nn.Linear(H, H), nn.Dropout(0.2)
            self.intermediate_layers.append(block)
        self.output_layer = output_layer
        self.final_layer = nn.Module()
        if output_layer == "full":
            self.final_layer.linear = nn.Linear(H, V, bias=False)
        else:
            self.final_layer.adaptive = nn.AdaptiveLogSoftmaxWithLoss(
                H, V, list(cutoffs), div_value=2.0
            )


def test_use_bit_dropout_swaps_every_dropout_and_keeps_the_rate():
    model = _TinyNPLM()
    assert K.use_bit_dropout(model) is model
    drops = [m for m in model.modules() if isinstance(m, nn.Dropout)]
    assert len(drops) == 3 and all(type(m) is K.BitDropout for m in drops)
    assert [m.p for m in drops] == [0.3, 0.2, 0.2]


def test_flop_count_matches_the_formula():
    fl = K.train_flops_per_token(_TinyNPLM())
    assert fl["train_flops_per_token"] == 6 * (3 * 4 * 8 + 2 * 8 * 8 + 8 * 100)
    ada = _TinyNPLM(blocks=1, output_layer="adaptive")
    targets = torch.tensor([0, 1, 20, 60])  # half in the head, a quarter in each tail
    f = K.train_flops_per_token(ada, targets)
    assert f["tail_fractions"] == {"10-50": 0.25, "50-100": 0.25}
    expected = 3 * 4 * 8 + 8 * 8 + 8 * 12 + 0.25 * (8 * 4 + 4 * 40) + 0.25 * (8 * 2 + 2 * 50)
    assert f["train_flops_per_token"] == pytest.approx(6 * expected)
