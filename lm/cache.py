"""A continuous cache for scoring a trained language model (Grave, Joulin and Usunier 2017).

Grave, Joulin and Usunier. 2017. *Improving Neural Language Models with a Continuous Cache.* ICLR.
Nothing is trained: the model's prediction is mixed with a distribution over the words that followed
similar hidden states in the recent past of the same stream.
"""

from __future__ import annotations

import math
import time

import torch

import utils
from lm.scoring import Reader, Scoring
from nplm.corpus import WindowBatches, encode_stream


@torch.no_grad()
def features_and_log_probs(model, stream: torch.Tensor, pad_id: int, batch_size: int = 4096):
    """The hidden state before the output layer (T, H) and log p(x_t | context) (T,) for every token
    x_t of the stream, in stream order. Runs in eval mode and restores the model's previous mode."""
    features, log_probs = [], []
    device = next(model.parameters()).device
    with utils.evaluating(model):
        for inputs, targets in WindowBatches(
            stream, model.context_size, pad_id, batch_size, device=device
        ):
            hidden = model.features(inputs)  # (B, H)
            features.append(hidden)
            log_probs.append(model.final_layer.target_log_prob(hidden, targets))  # (B,)
    return torch.cat(features), torch.cat(log_probs)  # (T, H), (T,)


def _check_cache_args(cache_size, thetas, lambdas) -> None:
    if isinstance(cache_size, bool) or int(cache_size) != cache_size or cache_size < 1:
        raise ValueError(
            f"cache_size must be a whole number >= 1 (past tokens kept), got {cache_size!r}"
        )
    if not len(thetas) or any(not math.isfinite(t) or t < 0 for t in thetas):
        raise ValueError(f"cache thetas must be finite and >= 0, got {list(thetas)}")
    if not len(lambdas) or any(not 0.0 <= lam < 1.0 for lam in lambdas):
        raise ValueError(f"cache lambdas must be in [0, 1), got {list(lambdas)}")


@torch.no_grad()
def continuous_cache_nll(scored, stream, cache_size, thetas, lambdas, block: int = 1024):
    """Mean negative log-likelihood per token of the model mixed with a continuous cache, for every
    (theta, lambda) of the grid: a float64 tensor (len(thetas), len(lambdas)).

    Grave, Joulin and Usunier. 2017. *Improving Neural Language Models with a Continuous Cache.*
    ICLR. The cache of target t holds the pairs (h_i, x_i) of the `cache_size` tokens before it: the
    model's hidden state h_i and the word x_i that followed it. p_cache(w) = sum_{i: x_i = w}
    softmax_i(theta * h_t . h_i), and p(w) = (1 - lambda) p_model(w) + lambda p_cache(w). Only
    earlier tokens of the stream are used, so it is a proper language model: the score of x_t never
    sees x_t. Nothing is trained; a long document's repeated names, numbers and rare words, which a
    fixed window forgets, get their probability back.

    `scored` is (features (T, H), log_probs (T,)) as `features_and_log_probs` gives them; stream
    (T,) the token ids.
    """
    _check_cache_args(cache_size, thetas, lambdas)
    features, log_probs = scored
    T = stream.numel()
    if features.shape[0] != T or log_probs.shape[0] != T:
        raise ValueError(
            f"features {tuple(features.shape)}, log_probs {tuple(log_probs.shape)} and stream "
            f"({T},) must have one row per token"
        )
    if features.device.type == "mps":  # no float64 there: the grid is scored on the CPU
        features, log_probs = features.cpu(), log_probs.cpu()
    device = features.device
    stream = stream.to(device)
    thetas_t = torch.tensor([float(t) for t in thetas], dtype=torch.float32, device=device)  # (K,)
    # (M,)
    lambdas_t = torch.tensor([float(x) for x in lambdas], dtype=torch.float64, device=device)
    total = torch.zeros(len(thetas), len(lambdas), dtype=torch.float64, device=device)
    log_model = log_probs.double()[:, None]  # (T, 1)
    for start in range(0, T, block):
        end = min(T, start + block)
        lo = max(0, start - cache_size)
        # (b, n): h_t . h_i for the keys lo..end-1
        scores = features[start:end] @ features[lo:end].T
        t_idx = torch.arange(start, end, device=device)[:, None]  # (b, 1)
        i_idx = torch.arange(lo, end, device=device)[None, :]  # (1, n)
        # (b, n): strictly before t, at most L back
        in_cache = (i_idx < t_idx) & (i_idx >= t_idx - cache_size)
        same_word = stream[lo:end][None, :] == stream[start:end][:, None]  # (b, n): x_i == x_t
        for k, theta in enumerate(thetas_t):
            logits = (theta * scores).masked_fill(~in_cache, float("-inf"))  # (b, n)
            # (b, n); an empty cache gives zeros
            weights = torch.softmax(logits, dim=1).nan_to_num(0.0)
            # (b,); 0 for the stream's first token
            p_cache = (weights * same_word).sum(1).double().clamp(max=1.0)
            # (b, M)
            mixed = torch.logaddexp(
                torch.log1p(-lambdas_t)[None, :] + log_model[start:end],
                torch.log(lambdas_t)[None, :] + torch.log(p_cache)[:, None],
            )
            total[k] -= mixed.sum(0)
    return (total / T).cpu()


def score_with_cache(model, tokenizer, splits, scoring: Scoring, reader: Reader = Reader()) -> dict:
    """Choose the cache's theta and lambda (scoring.cache_thetas, cache_lambdas) on the dev split of
    `splits` (dev, test or None), the grid's lowest perplexity, then score the test split with
    them. Returns the model's and the mixture's perplexity on each split and the whole grid. The
    model's features are read as `reader` says (lm/scoring.Reader)."""
    dev_data, test_data = splits
    features_of = reader.features_of or features_and_log_probs
    cache_size, batch_size, max_tokens, log = (
        scoring.cache_size,
        reader.batch_size,
        reader.max_tokens,
        reader.log,
    )
    thetas, lambdas = list(scoring.cache_thetas), list(scoring.cache_lambdas)
    _check_cache_args(cache_size, thetas, lambdas)
    t0 = time.perf_counter()
    out = {
        "method": "continuous cache (Grave, Joulin and Usunier 2017), tuned on dev",
        "cache_size": cache_size,
        "thetas": thetas,
        "lambdas": lambdas,
    }
    stream = encode_stream(dev_data, tokenizer, max_tokens)
    features, log_probs = features_of(model, stream, tokenizer.pad_token_id, batch_size)
    # (K, M)
    grid = continuous_cache_nll((features, log_probs), stream, cache_size, thetas, lambdas)
    k, m = divmod(int(torch.argmin(grid)), len(lambdas))
    theta, lam = thetas[k], lambdas[m]
    model_nll = -log_probs.cpu().double().mean().item()
    out["grid_dev_ppl"] = [[math.exp(v) for v in row] for row in grid.tolist()]
    out["theta"], out["lambda"] = theta, lam
    out["dev"] = {
        "model_ppl": math.exp(model_nll),
        "cache_ppl": math.exp(grid[k, m].item()),
        "targets": stream.numel(),
    }
    log(
        f"continuous cache of {cache_size} tokens: theta {theta}, lambda {lam} (chosen on "
        "dev); dev perplexity "
        f"{out['dev']['model_ppl']:.2f} -> {out['dev']['cache_ppl']:.2f}"
    )
    if test_data is not None:
        stream = encode_stream(test_data, tokenizer, max_tokens)
        features, log_probs = features_of(model, stream, tokenizer.pad_token_id, batch_size)
        nll = continuous_cache_nll((features, log_probs), stream, cache_size, [theta], [lam])[
            0, 0
        ].item()
        out["test"] = {
            "model_ppl": math.exp(-log_probs.cpu().double().mean().item()),
            "cache_ppl": math.exp(nll),
            "targets": stream.numel(),
        }
        log(
            f"test perplexity {out['test']['model_ppl']:.2f} -> {out['test']['cache_ppl']:.2f} "
            "with the same cache"
        )
    out["seconds"] = time.perf_counter() - t0
    return out
