"""The training step's fast kernels: cheaper dropout masks, a softmax loss that reuses its
exponentials, and fused AdamW. Torch only; each computes what the stock op computes (tests compare
them in float64). And `keep_freed_memory`, which keeps the step's freed buffers mapped (glibc), the
same numbers with fewer page faults.
"""

from __future__ import annotations

import sys

import torch
import torch.nn as nn


class BitDropout(nn.Dropout):
    """Inverted dropout with a cheaper mask: 16 random bits per element, drawn 64 at a time.

    `nn.Dropout` draws one `bernoulli_` sample per element; filling int64s with random bits and
    comparing each 16-bit quarter to a threshold is cheaper (docs/results.md: the step's profile).
    An element is dropped with probability round(p * 2**16) / 2**16 (p = 0.2 gives 0.19999695), and
    kept ones are scaled by the inverse of the keep rate, so the expectation is unchanged. Eval mode
    is the identity, as for `nn.Dropout`, and `p` is kept as an attribute, so code that reads
    `block.dropout.p` works unchanged.
    """

    def forward(self, inputs):
        if not self.training or self.p == 0.0:
            return inputs
        dropped = round(self.p * 65536)
        if dropped >= 65536:
            return inputs * 0.0
        n = inputs.numel()
        words = torch.empty((n + 3) // 4, dtype=torch.int64, device=inputs.device)
        # uniform int16
        bits = words.random_(-(2**63), 2**63 - 1).view(torch.int16)[:n].view(inputs.shape)
        keep = bits >= dropped - 32768  # P(keep) = 1 - dropped / 2**16
        return inputs * (keep * (65536.0 / (65536 - dropped)))  # (same shape as inputs)


class _SoftmaxNLL(torch.autograd.Function):
    """-log softmax(logits)[target] per row, with a backward that reuses the forward's exponentials.

    log_softmax + gather computes exp twice (forward and backward), writes a (N, V) log-probability
    tensor and scatters a zero-filled (N, V) gradient into it; here the forward keeps exp(logits -
    max) and the backward scales it in place into the softmax gradient, softmax - onehot(target).
    """

    @staticmethod
    def forward(ctx, logits, target):
        top = logits.amax(1, keepdim=True)  # (N, 1)
        exps = torch.sub(logits, top).exp_()  # (N, V)
        sums = exps.sum(1, keepdim=True)  # (N, 1)
        nll = (sums.log() + top).squeeze(1) - logits.gather(1, target[:, None]).squeeze(1)  # (N,)
        ctx.save_for_backward(exps, sums, target)
        ctx.backward_done = False
        return nll

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_nll):
        if ctx.backward_done:  # the first backward overwrote the saved exponentials
            raise RuntimeError(
                "softmax_nll can be differentiated once per forward: its backward reuses the saved "
                "(N, V) buffer. Run the forward again instead of backward(retain_graph=True)."
            )
        ctx.backward_done = True
        exps, sums, target = ctx.saved_tensors
        # In place: a fresh (N, V) buffer would be as large as the logits, allocated and filled
        # every step.
        grad = exps.mul_(grad_nll[:, None] / sums)  # (N, V) softmax * upstream gradient
        grad.scatter_add_(1, target[:, None], -grad_nll[:, None])  # minus the one-hot target
        return grad, None


def softmax_nll(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-row negative log-likelihood (N,) of `target` (N,) under softmax(logits (N, V));
    cross-entropy with reduction="none", computed with `_SoftmaxNLL` when a gradient is needed and
    with logsumexp otherwise."""
    # autocast's half-precision logits: the sum in float32
    if logits.dtype in (
        torch.float16,
        torch.bfloat16,
    ):
        logits = logits.float()
    if logits.requires_grad and torch.is_grad_enabled():
        return _SoftmaxNLL.apply(logits, target)
    return torch.logsumexp(logits, 1) - logits.gather(1, target[:, None]).squeeze(1)  # (N,)


def adaptive_nll(
    adaptive: nn.AdaptiveLogSoftmaxWithLoss,
    hidden: torch.Tensor,
    targets: torch.Tensor,
    reduction: str = "mean",
) -> torch.Tensor:
    """The NLL of `targets` (N,) given `hidden` (N, H) under `adaptive`'s distribution, as its
    forward computes it (the head over the shortlist and one token per cluster, a tail only for the
    targets in its cluster), but with `softmax_nll` in place of log_softmax + gather. Returns the
    mean, the sum or the (N,) values (reduction "none"); tests compare it with `adaptive(hidden,
    targets)` in float64.
    """
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', not {reduction!r}")
    if targets.numel() and (int(targets.min()) < 0 or int(targets.max()) >= adaptive.n_classes):
        raise ValueError(
            f"adaptive_nll: targets must be word ids in [0, {adaptive.n_classes}), got ids from "
            f"{int(targets.min())} to {int(targets.max())}"
        )
    head_target = targets.clone()  # (N,): the word in the shortlist, else its cluster's token
    tails = []
    bounds = adaptive.cutoffs  # [c0, c1, ..., V]
    for i, tail in enumerate(adaptive.tail):
        in_cluster = (targets >= bounds[i]) & (targets < bounds[i + 1])  # (N,)
        rows = in_cluster.nonzero().squeeze(1)  # (n_i,)
        if rows.numel() == 0:
            continue
        head_target[rows] = adaptive.shortlist_size + i
        tails.append((rows, softmax_nll(tail(hidden[rows]), targets[rows] - bounds[i])))  # (n_i,)
    nll = softmax_nll(adaptive.head(hidden), head_target)  # (N,)
    if reduction == "none":
        for rows, tail_nll in tails:
            nll = nll.index_add(0, rows, tail_nll)
        return nll
    total = nll.sum() + sum(tail_nll.sum() for _, tail_nll in tails)
    return total / max(targets.numel(), 1) if reduction == "mean" else total


def make_adamw(model: nn.Module, lr: float, weight_decay: float) -> torch.optim.AdamW:
    """AdamW with the fused kernel (one pass over all parameters), falling back to the multi-tensor
    kernel where this torch build has no fused one."""
    try:
        return torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay, fused=True)
    except (RuntimeError, ValueError):
        return torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay, foreach=True)


def use_bit_dropout(model: nn.Module) -> nn.Module:
    """Swap every `nn.Dropout` of `model` for a `BitDropout` of the same rate, in place; returns
    `model`. Dropout has no weights, so state_dicts and checkpoints are the same either way."""
    for module in list(model.modules()):
        for name, child in module.named_children():
            if type(child) is nn.Dropout:
                setattr(module, name, BitDropout(child.p))
    return model


def train_flops_per_token(model: nn.Module, targets: torch.Tensor | None = None) -> dict:
    """Matrix-multiply FLOPs of one training token of an NPLM: 2 per multiply-add, times 3 for
    forward and backward, read off its linear layers.

    Embedding lookups, tanh, LayerNorm and the softmax are left out (O(H) or O(V) per token, not
    O(H*V)). With an adaptive softmax every token pays for the head and a tail only for the share of
    `targets` (the training stream) that falls in its cluster; without `targets` every tail is
    counted in full.
    """

    def macs(layer: nn.Module) -> int:  # a tied layer (mlp_lm.TiedOutput, TiedHead) counts its own
        return layer.macs() if hasattr(layer, "macs") else layer.in_features * layer.out_features

    counts = {
        "first": macs(model.first_layer.linear),
        "blocks": sum(macs(block.linear) for block in model.intermediate_layers),
    }
    fractions = {}
    if model.output_layer == "full":
        final = model.final_layer
        counts["output"] = macs(final.linear if hasattr(final, "linear") else final.tied)
    else:
        asm = model.final_layer.adaptive
        counts["head"] = macs(asm.head)
        counts["tails_expected"] = 0.0
        for i, tail in enumerate(asm.tail):
            lo, hi = asm.cutoffs[i], asm.cutoffs[i + 1]
            share = 1.0
            if targets is not None and targets.numel():
                share = ((targets >= lo) & (targets < hi)).double().mean().item()
            fractions[f"{lo}-{hi}"] = share
            tail_macs = macs(tail) if hasattr(tail, "macs") else macs(tail[0]) + macs(tail[1])
            counts["tails_expected"] += share * tail_macs
    forward = 2.0 * sum(counts.values())
    return {
        "train_flops_per_token": 3.0 * forward,
        "forward_flops_per_token": forward,
        "macs": counts,
        "tail_fractions": fractions,
    }


def keep_freed_memory() -> bool:
    """Make glibc keep freed memory for reuse instead of handing it back to the OS; True if it took
    effect.

    glibc serves an allocation above its mmap threshold (128 KiB at first, rising to at most 32 MiB)
    with a fresh mapping that it unmaps on free, and it returns the top of the heap to the OS once
    more than its trim threshold is free. A training step allocates and frees the same large buffers
    every time (the (2048, 32505) logits of a full softmax are 266 MB; the embedding gradients; the
    tails' log-softmax), so every step page-faults them in anew. Raising both thresholds keeps those
    pages mapped (docs/results.md: what it measured). Results are bit for bit the same.
    Process-wide, so call it from an entry point; a no-op (False) without glibc.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3  # from glibc's malloc.h
        # Allocations below 1 GiB come from the heap, and the heap is given back only above 2 GiB
        # free.
        ok = (
            libc.mallopt(m_mmap_threshold, 1 << 30) == 1
            and libc.mallopt(m_trim_threshold, (1 << 31) - 1) == 1
        )
        return bool(ok)
    except (OSError, AttributeError):
        return False
