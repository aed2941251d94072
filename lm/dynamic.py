"""Dynamic evaluation of a trained language model (Krause, Kahembwe, Murray and Renals 2018).

Krause, Kahembwe, Murray and Renals. 2018. *Dynamic Evaluation of Neural Sequence Models.* ICML.
The stream is scored segment by segment, in order; after a segment is scored, the weights take one
gradient step on that segment's loss, so that the words, names and topics of the text read so far
become likelier in what follows. A token is scored before any step has seen it: the score of x_t
depends on x_1..x_{t-1} alone, which keeps it a language model. The step is SGD with a decay back to
the trained weights theta_0:

    theta <- theta - lr * grad + decay * (theta_0 - theta)

(Krause et al.'s RMS-normalised rule divides the step by each weight's training-gradient RMS; on
this model's dev set it scored worse than plain SGD at every step size we tried, so it is not
offered.) The trained weights are put back at the end; the continuous cache (lm/cache.py) can read
the features the adapted model computed.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import time
from typing import NamedTuple, Optional

import torch

import utils
from common import worker_pool
from lm.cache import cache_probs, continuous_cache_nll
from lm.ngram import mix_passes
from lm.scoring import DYNAMIC_SEGMENT, Reader, Scoring
from nplm.corpus import WindowBatches, encode_stream


def check_dynamic_args(lrs, decays, segment_len) -> None:
    if not len(lrs) or any(not math.isfinite(lr) or lr <= 0 for lr in lrs):
        raise ValueError(
            f"dynamic-evaluation learning rates must be finite and > 0, got {list(lrs)}"
        )
    if not len(decays) or any(not 0.0 <= d < 1.0 for d in decays):
        raise ValueError(f"dynamic-evaluation decays must be in [0, 1), got {list(decays)}")
    if isinstance(segment_len, bool) or int(segment_len) != segment_len or segment_len < 1:
        raise ValueError(
            "the dynamic-evaluation segment length must be a whole number >= 1, got "
            f"{segment_len!r}"
        )


def trainable_params(model) -> list:
    """The weights that dynamic evaluation adapts: every parameter that takes a gradient."""
    return [p for p in model.parameters() if p.requires_grad]


@contextlib.contextmanager
def restoring(params):
    """Yield copies of `params` (the trained weights theta_0) and put them back when the block ends,
    even when it raises."""
    trained = [p.detach().clone() for p in params]
    try:
        yield trained
    finally:
        with torch.no_grad():
            for p, w in zip(params, trained):
                p.copy_(w)


@torch.no_grad()
def sgd_step_with_decay(params, grads, trained, lr: float, decay: float) -> None:
    """theta <- theta - lr * grad + decay * (theta_0 - theta), in place; a parameter the loss did
    not reach (grad None) only decays."""
    used = [(p, g) for p, g in zip(params, grads) if g is not None]
    torch._foreach_add_([p for p, _ in used], [g for _, g in used], alpha=-lr)
    if decay > 0:  # theta += decay * (theta_0 - theta)
        torch._foreach_lerp_(params, trained, decay)


class DynamicStep(NamedTuple):
    """One dynamic evaluation's step: its size, its decay to the trained weights, and the tokens
    scored between two steps."""

    lr: float
    decay: float = 0.0
    segment_len: int = DYNAMIC_SEGMENT


def dynamic_eval(
    model, stream: torch.Tensor, pad_id: int, step: DynamicStep, timing=None, carry=None
):
    """Score `stream` with dynamic evaluation: (features (T, H), log p(x_t | x_<t) (T,)), in stream
    order, each as the model stood when x_t was scored (the features feed the continuous cache, as
    `features_and_log_probs` gives them for the static model). The weights are restored before
    returning; eval mode throughout, so no dropout: the steps adapt the weights the static model
    would score with.

    With a `timing` dict, each segment is also scored as the static model scores it (no gradient, no
    step), just before its dynamic step, and the two are timed side by side:
    timing["static_seconds"] and timing["dynamic_seconds"] add up over the segments. Alternating
    segment by segment, both see the same machine load, so their ratio holds even while another
    process takes the CPU; the scores are unchanged."""
    lr, decay, segment_len = step
    check_dynamic_args([lr], [decay], segment_len)
    device = trainable_params(model)[0].device
    segments = WindowBatches(stream, model.context_size, pad_id, segment_len, device=device)

    def read(inputs, targets, static: bool):
        return model.nll(inputs, targets) if static else model.features(inputs)

    return dynamic_pass(model, segments, (lr, decay), read, timing, carry)


# the static model's time is measured on every TIMING_EVERY-th segment (a sample: timing every one
# cost as much again as a static pass over dev)
TIMING_EVERY = 8


def dynamic_pass(model, segments, step, read, timing=None, carry=None):
    """The loop of every dynamic evaluation: for each (inputs, targets) of `segments`, in order, the
    hidden states `read(inputs, targets, False)` gives (S, H) are scored by the output layer, then
    the weights take one SGD step on the segment's mean NLL, with `step` = (lr, decay) to the
    trained weights. With a `timing` dict, on every TIMING_EVERY-th segment `read(inputs, targets,
    True)` (the static model's work on the segment) is run and timed first, then the dynamic work
    on the same segment: timing["static_seconds"], ["dynamic_seconds"] and ["tokens"] add up
    over those segments. `carry`: as `dynamic_eval` says. Returns (features (T, H), log p (T,));
    the weights and the model's mode are restored."""
    lr, decay = step
    params = trainable_params(model)
    device = params[0].device
    features, log_probs = [], []
    if timing is not None:
        timing.update(static_seconds=0.0, dynamic_seconds=0.0, tokens=0)
    done = 0 if carry is None else carry.get("segments", 0)
    # eval mode: no dropout, and the gradients of the steps
    with restoring(params) as trained, utils.evaluating(model, grad=True):
        if done:  # the weights where the pass over the prefix ended
            with torch.no_grad():
                torch._foreach_copy_(params, carry["weights"])
        for index, (inputs, targets) in enumerate(itertools.islice(segments, done, None)):
            timed = timing is not None and index % TIMING_EVERY == 0
            if timed:
                t = synced_clock(device)
                with torch.no_grad():
                    read(inputs, targets, True)
                t_static = synced_clock(device)
                timing["static_seconds"] += t_static - t
                timing["tokens"] += targets.numel()
            hidden = read(inputs, targets, False)  # (S, H)
            # (S,): scored before the step below
            nll = model.final_layer.nll(hidden, targets, reduction="none")
            features.append(hidden.detach())
            log_probs.append(-nll.detach())
            grads = torch.autograd.grad(nll.mean(), params, allow_unused=True)
            sgd_step_with_decay(params, grads, trained, lr, decay)
            if timed:
                timing["dynamic_seconds"] += synced_clock(device) - t_static
        if carry is not None:
            carry["weights"] = [p.detach().clone() for p in params]
            carry["segments"] = done + len(features)
    return torch.cat(features), torch.cat(log_probs)  # (T, H), (T,)


def score_dynamic(
    model, tokenizer, splits, scoring: Scoring, reader: Reader = Reader(), ngram=None
) -> dict:
    """Dynamic evaluation tuned on dev, then test scored once; `splits` is (dev, test or None).

    The (lr, decay) of the grid (scoring.dynamic_lrs, dynamic_decays) with the lowest perplexity on
    the first scoring.dynamic_tune_tokens dev tokens is chosen; the whole dev split is then scored
    with it, and with scoring.cache_size > 0 the continuous cache's theta and lambda are chosen on
    that pass's features; test is scored once, alone and with the cache. Returns the grid's scores,
    the choices, dev and test perplexities, and the cost per token against the static model's.
    reader.dynamic_eval is the pass that scores a stream (None: `dynamic_eval`; the LSTM's is
    lm/lstm.py's `lstm_dynamic_eval`). With a counted `ngram` (lm/ngram.KneserNey), the adapted
    model is also mixed with it (mu chosen on dev from scoring.ngram_mus), alone and under the
    cache: out["ngram"]."""
    dev_data, test_data = splits
    evaluate = reader.dynamic_eval or dynamic_eval
    lrs, decays = list(scoring.dynamic_lrs), list(scoring.dynamic_decays)
    thetas, lambdas = list(scoring.cache_thetas), list(scoring.cache_lambdas)
    segment_len, tune_tokens = scoring.dynamic_segment, scoring.dynamic_tune_tokens
    cache_size, max_tokens, log = scoring.cache_size, reader.max_tokens, reader.log
    check_dynamic_args(lrs, decays, segment_len)
    if isinstance(tune_tokens, bool) or int(tune_tokens) != tune_tokens or tune_tokens < 1:
        raise ValueError(f"tune_tokens must be a whole number >= 1, got {tune_tokens!r}")
    pad = tokenizer.pad_token_id
    t0 = time.perf_counter()
    dev = encode_stream(dev_data, tokenizer, max_tokens)
    out = {
        "method": "dynamic evaluation (Krause et al. 2018): SGD with decay to the trained "
        "weights, tuned on dev",
        "segment_len": segment_len,
        "lrs": lrs,
        "decays": decays,
        "tune_tokens": min(tune_tokens, dev.numel()),
        "grid_dev_prefix": [],
    }
    # the pass over the whole of dev goes on from the chosen grid run's end (the same values as
    # scoring the prefix again), where the segments cut the prefix evenly and the pass is ours
    resumable = evaluate is dynamic_eval and tune_tokens % segment_len == 0
    # the passes are independent of one another: reader.workers processes run them side by side
    context = (model, evaluate, pad, segment_len)
    grid = list(itertools.product(lrs, decays))
    jobs = [_Pass(dev[:tune_tokens], step, carry={} if resumable else None) for step in grid]
    best_run = None
    for (lr, decay), (features, lp, _, carry) in zip(
        grid, worker_pool.fork_imap(_run_pass, jobs, reader.workers, context)
    ):
        out["grid_dev_prefix"].append(
            {"lr": lr, "decay": decay, "ppl": math.exp(-lp.double().mean().item())}
        )
        if resumable and (best_run is None or out["grid_dev_prefix"][-1]["ppl"] < best_run[0]):
            best_run = (out["grid_dev_prefix"][-1]["ppl"], carry, features, lp)
        del features, lp, carry
        log(
            f"dynamic evaluation lr {lr:g}, decay {decay:g}: perplexity "
            f"{out['grid_dev_prefix'][-1]['ppl']:.2f} on "
            f"the first {out['tune_tokens']:,} dev tokens"
        )
    best = min(out["grid_dev_prefix"], key=lambda row: row["ppl"])
    lr, decay = out["lr"], out["decay"] = best["lr"], best["decay"]
    # dev (with the static model's time and dynamic evaluation's, segment by segment, side by
    # side) and test, at once
    step = (lr, decay)
    test = None if test_data is None else encode_stream(test_data, tokenizer, max_tokens)
    # the chosen grid run's (features, log p) on the prefix, which the pass over dev goes on from
    head, carry = (None, None) if best_run is None else (best_run[2:], best_run[1])
    best_run = None
    cost_only = head is not None and dev.numel() <= tune_tokens  # the prefix is the whole of dev
    if cost_only:  # the cost alone, on its first segment
        jobs = [_Pass(dev[:segment_len], step, timed=True)]
    else:
        jobs = [_Pass(dev, step, timed=True, carry=carry)]
    if test is not None:
        jobs.append(_Pass(test, step))
    # dev comes back first: its cache is tuned here while a worker still scores test
    done = worker_pool.fork_imap(_run_pass, jobs, reader.workers, context)
    with contextlib.closing(done):
        features, lp, timing, _ = next(done)
        if cost_only:
            features, lp = head
        elif head is not None:
            features, lp = torch.cat([head[0], features]), torch.cat([head[1], lp])
        head = carry = None
        passes = {"dev": {"stream": dev, "features": features, "model": lp}}
        static_seconds, dynamic_seconds = timing["static_seconds"], timing["dynamic_seconds"]
        timed_tokens = timing.get("tokens", dev.numel())
        out["cost"] = {
            "static_us_per_token": 1e6 * static_seconds / timed_tokens,
            "dynamic_us_per_token": 1e6 * dynamic_seconds / timed_tokens,
            "ratio": dynamic_seconds / static_seconds,
            "measured": "alternating, segment by segment, in the same pass over dev (every "
            f"{TIMING_EVERY}th segment)",
        }
        out["dev"] = {"ppl": math.exp(-lp.double().mean().item()), "targets": dev.numel()}
        if cache_size:
            probs = cache_probs(passes["dev"], cache_size)  # shared with the n-gram's cache grid
            grid = continuous_cache_nll(
                (features, lp), dev, cache_size, thetas, lambdas, probs=probs
            )  # (K, M)
            k, m = divmod(int(torch.argmin(grid)), len(lambdas))
            out["cache"] = {"cache_size": cache_size, "theta": thetas[k], "lambda": lambdas[m]}
            out["dev"]["with_cache_ppl"] = math.exp(grid[k, m].item())
        log(
            f"dynamic evaluation (lr {lr:g}, decay {decay:g}, chosen on dev): dev perplexity "
            f"{out['dev']['ppl']:.2f}"
            + (f", {out['dev']['with_cache_ppl']:.2f} with the cache" if cache_size else "")
            + f"; {out['cost']['ratio']:.1f} times the static model's time per token"
        )
        if test is not None:
            features, lp = next(done)[:2]
            passes["test"] = {"stream": test, "features": features, "model": lp}
            out["test"] = {"ppl": math.exp(-lp.double().mean().item()), "targets": test.numel()}
            if cache_size:
                c = out["cache"]
                probs = cache_probs(passes["test"], cache_size)
                nll = continuous_cache_nll(
                    (features, lp), test, cache_size, [c["theta"]], [c["lambda"]], probs=probs
                )[0, 0].item()
                out["test"]["with_cache_ppl"] = math.exp(nll)
            log(
                f"dynamic evaluation: test perplexity {out['test']['ppl']:.2f}"
                + (f", {out['test']['with_cache_ppl']:.2f} with the cache" if cache_size else "")
            )
    if ngram is not None:
        out["ngram"] = mix_passes(ngram, passes, scoring, log)
    out["seconds"] = time.perf_counter() - t0
    return out


class _Pass(NamedTuple):
    """One pass of `score_dynamic`: the stream, the (lr, decay) step, whether the static model's
    time is measured beside it, and the carry it goes on from and fills (None: none)."""

    stream: torch.Tensor
    step: tuple
    timed: bool = False
    carry: Optional[dict] = None


def _run_pass(context, job: _Pass) -> tuple:
    """(features, log p, timing or None, carry) of one pass; `context` is (model, the pass function,
    pad id, segment length). Run by worker_pool.fork_imap, here or in a worker."""
    model, evaluate, pad, segment_len = context
    timing = {} if job.timed else None
    kw = {} if job.carry is None else {"carry": job.carry}  # another model's pass takes none
    step = DynamicStep(*job.step, segment_len)
    features, lp = evaluate(model, job.stream, pad, step, timing=timing, **kw)
    return features, lp, timing, job.carry


def synced_clock(device: torch.device) -> float:
    """time.perf_counter() once the device's queued work is done (a GPU runs asynchronously)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()
    return time.perf_counter()
