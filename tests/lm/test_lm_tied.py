"""Tests of the beyond-the-course model parts of mlp_lm.py: tied output embeddings (full and
adaptive softmax) and the two input regularisers (word-type embedding dropout, input dropout), each
against a direct float64 computation from the embedding table."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from nplm import kernels as K  # noqa: E402
import mlp_lm as M  # noqa: E402
from lm.config import LMRunConfig  # noqa: E402
from lm.train import build_model  # noqa: E402
from nplm.checkpoint import save_checkpoint  # noqa: E402

# H / div_value = E: the first tail ties directly, the second through a wider projection
V, E, W, H = (
    30,
    4,
    3,
    16,
)


def tied_model(output_layer="adaptive", seed=0, **kw):
    torch.manual_seed(seed)
    return M.NPLM(
        V,
        E,
        W,
        H,
        1,
        0.0,
        output_layer=output_layer,
        cutoffs=[6, 15],
        div_value=4.0,
        tie_embeddings=True,
        **kw,
    ).double()


def reference_log_probs(model, x):
    """log p(w | x) for every word, written out from the embedding table in float64 (Grave et al.
    2017's two-level factorisation, every word vector a row of the input table)."""
    emb = model.first_layer.embeddings.weight  # (V, E)
    h = model.features(x)  # (B, H)
    if model.output_layer == "full":
        return F.log_softmax(model.final_layer.tied.proj(h) @ emb.T, dim=-1)
    asm = model.final_layer.adaptive
    head_words = (h @ asm.head.words.proj.weight.T) @ emb[:6].T  # (B, 6)
    # (B, 8)
    head = F.log_softmax(torch.cat([head_words, h @ asm.head.clusters.weight.T], 1), dim=-1)
    parts = [head[:, :6]]
    for i, (lo, hi) in enumerate([(6, 15), (15, V)]):
        tail = F.log_softmax((h @ asm.tail[i].proj.weight.T) @ emb[lo:hi].T, dim=-1)  # (B, hi - lo)
        parts.append(head[:, 6 + i : 7 + i] + tail)
    return torch.cat(parts, 1)  # (B, V)


@pytest.mark.parametrize("output_layer", ["adaptive", "full"])
def test_tied_output_is_the_input_table_and_the_loss_matches_a_direct_computation(output_layer):
    model = tied_model(output_layer).eval()
    # targets in the head and both tails
    x, y = (
        torch.randint(0, V, (7, W)),
        torch.arange(0, V, 4)[:7],
    )
    ref = reference_log_probs(model, x)
    torch.testing.assert_close(model(x), ref)
    torch.testing.assert_close(
        model.nll(x, y, reduction="none"), -ref.gather(1, y[:, None]).squeeze(1)
    )
    names = [n for n, _ in model.named_parameters()]
    assert not any(
        p.shape[0] == V for n, p in model.named_parameters() if n != "first_layer.embeddings.weight"
    ), names  # no output word matrix of its own
    # the first tail's projection has the untied tail's shape (E = H / 4)
    if output_layer == "adaptive":
        assert tuple(model.final_layer.adaptive.tail[0].proj.weight.shape) == (E, H)
    # the output side trains the input table: a row of a word that is a target but never in a
    # context moves
    x, y = torch.zeros(4, W, dtype=torch.long), torch.full((4,), 20)
    model.train().nll(x, y).backward()
    assert model.first_layer.embeddings.weight.grad[20].abs().sum() > 0
    # softmax's other words too
    assert model.first_layer.embeddings.weight.grad[21:].abs().sum() > 0


def test_tied_gradient_matches_finite_differences_in_float64():
    model = tied_model().eval()
    x, y = torch.randint(0, V, (5, W)), torch.tensor([1, 7, 16, 29, 3])
    table = model.first_layer.embeddings.weight.detach().clone().requires_grad_()
    # the table as a differentiable input, read by the input and the output side alike
    assert torch.autograd.gradcheck(
        lambda w: _with_table(model, w, lambda: -model(x).gather(1, y[:, None]).sum()), (table,)
    )
    grads = []
    for loss in (
        lambda: -model(x).gather(1, y[:, None]).sum(),
        lambda: model.nll(x, y, reduction="sum"),
    ):
        grads.append(torch.autograd.grad(_with_table(model, table, loss), table)[0])
    # the training loss's kernel gives the same gradient
    torch.testing.assert_close(grads[1], grads[0])


def _with_table(model, table, loss):
    emb = model.first_layer.embeddings
    saved = emb.weight
    del emb.weight
    emb.weight = table
    try:
        return loss()
    finally:
        del emb.weight
        emb.weight = saved


def test_tied_model_round_trips_through_a_checkpoint_and_a_device_move(tmp_path):
    tok = M.WordTokenizer.from_texts([" ".join(f"w{i}" for i in range(V - 2))])
    assert tok.vocab_size == V
    cfg = LMRunConfig(
        embed_dim=E,
        local_window_size=W,
        hidden_dim=H,
        num_blocks=1,
        output_layer="adaptive",
        cutoffs=[6, 15],
        div_value=4.0,
        tie_embeddings=True,
    )
    model = build_model(cfg, V).eval()
    path = tmp_path / "tied.pt"
    save_checkpoint(
        model.state_dict(), path, {"tokenizer": tok.to_dict(), "model": M.model_fields(cfg)}
    )
    loaded, _, _ = M.load_checkpoint(path)
    x = torch.randint(0, V, (4, W))
    torch.testing.assert_close(loaded(x), model(x))
    loaded.to("cpu")  # a move keeps the table shared: editing it changes the output
    with torch.no_grad():
        loaded.first_layer.embeddings.weight[5] += 1.0
    assert not torch.allclose(loaded(x)[:, 5], model(x)[:, 5])
    flops = K.train_flops_per_token(model)
    assert flops["macs"]["head"] == H * E + E * 6 + H * 2
    assert flops["macs"]["tails_expected"] == (H * E + E * 9) + (H * E + E * 15)


def test_word_type_dropout_drops_a_type_everywhere_in_the_batch_and_only_in_training():
    torch.manual_seed(0)
    block = M.NPLMFirstBlock(V, E, W, H, 0.0, embed_dropout_p=0.5).double()
    x = torch.tensor([[3, 3, 4]] * 6)
    block.eval()
    assert block.word_type_scale("cpu") is None
    kept_rows = set()
    for seed in range(20):
        torch.manual_seed(seed)
        scale = block.train().word_type_scale("cpu")
        assert set(scale.unique().tolist()) <= {0.0, 2.0}
        torch.manual_seed(seed)
        out = block(x)
        concat = block.embeddings.weight[x] * scale[x].unsqueeze(-1)  # (B, W, E)
        ref = torch.tanh(concat.reshape(6, W * E) @ block.linear.weight.T + block.linear.bias)
        torch.testing.assert_close(
            out, F.layer_norm(ref, (H,), block.layer_norm.weight, block.layer_norm.bias)
        )
        # the same windows: the same types dropped in every row
        torch.testing.assert_close(out, out[:1].expand_as(out))
        kept_rows.add(tuple(scale[[3, 4]].tolist()))
    assert len(kept_rows) > 1  # a new draw per batch
    rate = sum((block.word_type_scale("cpu") == 0).double().mean().item() for _ in range(200)) / 200
    assert abs(rate - 0.5) < 0.02


def test_word_type_dropout_in_the_global_context_bags():
    torch.manual_seed(0)
    block = M.NPLMFirstBlock(
        V, E, 2, H, 0.0, global_window=4, global_chunks=2, embed_dropout_p=0.3
    ).double()
    near, far = torch.randint(0, V, (5, 2)), torch.randint(0, V, (5, 4))
    torch.manual_seed(1)
    got = block.train().context_vectors(near, far)  # (B, (W+C)*E)
    torch.manual_seed(1)
    scale = block.word_type_scale("cpu")
    # (V, E): dropped rows are zero, kept ones scaled
    emb = block.embeddings.weight * scale[:, None]
    ref = torch.cat(
        [emb[near].reshape(5, -1), emb[far].reshape(5, 2, 2, E).mean(2).reshape(5, -1)], 1
    )
    torch.testing.assert_close(got, ref)


def test_input_dropout_is_elementwise_on_the_concatenation():
    torch.manual_seed(0)
    block = M.NPLMFirstBlock(V, E, W, H, 0.0, input_dropout_p=0.5).double().train()
    x = torch.randint(0, V, (64, W))
    block.linear.weight.data.zero_()
    block.linear.weight.data[0, :] = 1.0  # the first unit sums the (dropped) concatenation
    torch.manual_seed(3)
    mask_draw = block.input_dropout(torch.ones(64, W * E, dtype=torch.float64))
    torch.manual_seed(3)
    out_pre = torch.atanh(
        torch.tanh(block.linear(block.input_dropout(block.embeddings.weight[x].reshape(64, -1))))
    )
    concat = block.embeddings.weight[x].reshape(64, -1) * mask_draw
    torch.testing.assert_close(out_pre[:, 0], concat.sum(1) + block.linear.bias[0])
    assert 0.3 < (mask_draw == 0).double().mean().item() < 0.7
    block.eval()
    torch.testing.assert_close(block(x), M.NPLMFirstBlock.forward(block, x))


def test_zero_rates_draw_no_random_numbers():
    """A run without the new regularisers trains exactly as before them: the same random stream."""
    block = M.NPLMFirstBlock(V, E, W, H, 0.0).train()
    torch.manual_seed(0)
    block(torch.randint(0, V, (4, W)))
    after = torch.rand(1)
    torch.manual_seed(0)
    torch.randint(0, V, (4, W))
    assert torch.equal(torch.rand(1), after)


def test_one_split_of_the_table_gives_the_sliced_gradient_bit_for_bit(monkeypatch):
    """The adaptive softmax's head and tails read their rows from one split of the table while the
    loss is computed (TiedAdaptiveLogSoftmax.sharing_rows): the table's gradient is that of each
    layer slicing it, to the last bit (float32), and no layer keeps the rows afterwards."""
    from nplm import output as O

    model = tied_model(global_window=4, global_chunks=2).float()
    x = torch.randint(0, V, (64, model.context_size), generator=torch.Generator().manual_seed(1))
    y = torch.arange(64) % V  # every cluster's words

    def grads():
        model.zero_grad(set_to_none=True)
        model.nll(x, y).backward()
        return [p.grad.clone() for p in model.parameters()]

    shared = grads()
    asm = model.final_layer.adaptive
    assert all(layer.rows is None for layer in [asm.head.words, *asm.tail])
    monkeypatch.setattr(
        O.TiedAdaptiveLogSoftmax, "sharing_rows", lambda self: contextlib.nullcontext()
    )
    sliced = grads()
    assert all(torch.equal(a, b) for a, b in zip(shared, sliced))
