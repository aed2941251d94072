"""A continuous cache for scoring a trained language model (Grave, Joulin and Usunier 2017).

Grave, Joulin and Usunier. 2017. *Improving Neural Language Models with a Continuous Cache.* ICLR.
Nothing is trained: the model's prediction is mixed with a distribution over the words that followed
similar hidden states in the recent past of the same stream.
"""

from __future__ import annotations

import math
import time

import torch
import torch.nn.functional as F

import mlp_lm
import utils
from lm.scoring import Reader, Scoring
from nplm.corpus import WindowBatches, encode_stream, pad_id_of


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


@torch.no_grad()
def read_with_static_loss(model, stream: torch.Tensor, pad_id: int, batch_size: int = 4096):
    """One pass over `stream` that gives what the static score, the cache and the n-gram mixture
    read: ({stream, features (T, H), model: log p (T,) float64}, (mean loss, perplexity)). The
    features and log-probs are `features_and_log_probs`'; the loss is mlp_lm.evaluate's over the
    same batches (the output layer's own NLL summed per batch, added up in float64), computed from
    the same hidden states, so that the model's body runs once."""
    features, log_probs = [], []
    device = next(model.parameters()).device
    final = model.final_layer
    total = torch.zeros((), dtype=torch.float64, device=device)
    count = 0
    with utils.evaluating(model):
        for inputs, targets in WindowBatches(
            stream, model.context_size, pad_id, batch_size, device=device
        ):
            hidden = model.features(inputs)  # (B, H)
            features.append(hidden)
            if isinstance(final, mlp_lm.NPLMAdaptiveFinalBlock):
                total += final.nll(hidden, targets, reduction="sum").double()
                log_probs.append(final.target_log_prob(hidden, targets))  # (B,)
            else:  # the course's criterion over the full log-probabilities, read once
                full = final(hidden)  # (B, V)
                total += (F.nll_loss(full, targets) * targets.numel()).double()
                log_probs.append(full.gather(1, targets[:, None]).squeeze(1))  # (B,)
            count += targets.numel()
    if count == 0:
        raise ValueError("evaluate: the evaluation data is empty")
    loss = total.item() / float(count)
    read = {"stream": stream, "features": torch.cat(features), "model": torch.cat(log_probs)}
    read["model"] = read["model"].cpu().double()
    return read, (loss, math.exp(min(loss, 709.0)))


def read_splits(model, tokenizer, splits, reader: Reader) -> dict:
    """One read of each split of `splits` (dev, test or None) that the cache and the n-gram mixture
    share: {split: {stream, features (T, H), model: log p (T,) float64}}, read as `reader` says."""
    features_of = reader.features_of or features_and_log_probs
    passes = {}
    for name, data in zip(("dev", "test"), splits):
        if data is None:
            continue
        stream = encode_stream(data, tokenizer, reader.max_tokens)
        features, log_probs = features_of(model, stream, pad_id_of(tokenizer), reader.batch_size)
        passes[name] = {"stream": stream, "features": features, "model": log_probs.cpu().double()}
    return passes


def cache_probs(read: dict, cache_size: int) -> "CacheProbs":
    """The CacheProbs of one read split (read_splits' entry), made once and kept in it."""
    probs = read.get("cache_probs")
    if probs is None or probs.cache_size != cache_size:
        probs = read["cache_probs"] = CacheProbs(read["features"], read["stream"], cache_size)
    return probs


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
def continuous_cache_nll(
    scored, stream, cache_size, thetas, lambdas, block: int = 1024, probs=None
):
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
    (T,) the token ids. `probs` (a CacheProbs of the same features, stream, cache_size and block)
    shares the cache's distribution with other grids over the same read.
    """
    _check_cache_args(cache_size, thetas, lambdas)
    features, log_probs = scored
    T = stream.numel()
    if features.shape[0] != T or log_probs.shape[0] != T:
        raise ValueError(
            f"features {tuple(features.shape)}, log_probs {tuple(log_probs.shape)} and stream "
            f"({T},) must have one row per token"
        )
    if probs is None:
        probs = CacheProbs(features, stream, cache_size, block)
    elif (probs.cache_size, probs.block, probs.T) != (cache_size, block, T):
        raise ValueError("probs were read for another cache size, block or stream")
    p_caches = probs.get(thetas)  # K x (T,) float64
    device = probs.device
    # (M,)
    lambdas_t = torch.tensor([float(x) for x in lambdas], dtype=torch.float64, device=device)
    total = torch.zeros(len(thetas), len(lambdas), dtype=torch.float64, device=device)
    log_model = log_probs.to(device).double()[:, None]  # (T, 1)
    # block by block, in the order the grid was always summed in, so the sums are the same bits
    for start in range(0, T, block):
        end = min(T, start + block)
        for k, p_all in enumerate(p_caches):
            p_cache = p_all[start:end]  # (b,)
            # (b, M)
            mixed = torch.logaddexp(
                torch.log1p(-lambdas_t)[None, :] + log_model[start:end],
                torch.log(lambdas_t)[None, :] + torch.log(p_cache)[:, None],
            )
            total[k] -= mixed.sum(0)
    return (total / T).cpu()


class CacheProbs:
    """p_cache(x_t) of every token of one read stream, for each theta asked, each theta computed
    once: the cache's distribution depends on the features and the stream alone, so the cache's
    grid, the grid over the n-gram mixture and a test score share it (continuous_cache_nll's
    `probs`). The values are those continuous_cache_nll always computed, block by block."""

    def __init__(self, features, stream, cache_size: int, block: int = 1024):
        if features.device.type == "mps":  # no float64 there: the grid is scored on the CPU
            features = features.cpu()
        self.features, self.device = features, features.device
        self.stream = stream.to(self.device)
        self.cache_size, self.block, self.T = cache_size, block, stream.numel()
        self.rows: dict = {}  # theta -> (T,) float64
        self.sweeps = 0  # passes over the stream's blocks (each one matrix product per block)

    @torch.no_grad()
    def get(self, thetas) -> list:
        """[p_cache (T,) float64 for each theta], the missing thetas computed in one sweep."""
        missing = [t for t in dict.fromkeys(float(t) for t in thetas) if t not in self.rows]
        if missing:
            self._sweep(missing)
        return [self.rows[float(t)] for t in thetas]

    def _sweep(self, thetas) -> None:
        features, stream, device = self.features, self.stream, self.device
        T, cache_size, block = self.T, self.cache_size, self.block
        thetas_t = torch.tensor(thetas, dtype=torch.float32, device=device)  # (K,)
        parts = [[] for _ in thetas]
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
                parts[k].append((weights * same_word).sum(1).double().clamp(max=1.0))
        for theta, part in zip(thetas, parts):
            self.rows[theta] = torch.cat(part)
        self.sweeps += 1


def score_with_cache(
    model, tokenizer, splits, scoring: Scoring, reader: Reader = Reader(), passes=None
) -> dict:
    """Choose the cache's theta and lambda (scoring.cache_thetas, cache_lambdas) on the dev split of
    `splits` (dev, test or None), the grid's lowest perplexity, then score the test split with
    them. Returns the model's and the mixture's perplexity on each split and the whole grid. The
    model's features are read as `reader` says (lm/scoring.Reader), unless `passes` (read_splits'
    dict, shared with the n-gram mixture) holds them."""
    cache_size, log = scoring.cache_size, reader.log
    thetas, lambdas = list(scoring.cache_thetas), list(scoring.cache_lambdas)
    _check_cache_args(cache_size, thetas, lambdas)
    t0 = time.perf_counter()
    if passes is None:
        passes = read_splits(model, tokenizer, splits, reader)
    out = {
        "method": "continuous cache (Grave, Joulin and Usunier 2017), tuned on dev",
        "cache_size": cache_size,
        "thetas": thetas,
        "lambdas": lambdas,
    }
    dev = passes["dev"]
    stream, features, log_probs = dev["stream"], dev["features"], dev["model"]
    # (K, M)
    probs = cache_probs(dev, cache_size)
    grid = continuous_cache_nll(
        (features, log_probs), stream, cache_size, thetas, lambdas, probs=probs
    )
    k, m = divmod(int(torch.argmin(grid)), len(lambdas))
    theta, lam = thetas[k], lambdas[m]
    model_nll = -log_probs.mean().item()
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
    if "test" in passes:
        test = passes["test"]
        stream, features, log_probs = test["stream"], test["features"], test["model"]
        probs = cache_probs(test, cache_size)
        nll = continuous_cache_nll(
            (features, log_probs), stream, cache_size, [theta], [lam], probs=probs
        )[0, 0].item()
        out["test"] = {
            "model_ppl": math.exp(-log_probs.mean().item()),
            "cache_ppl": math.exp(nll),
            "targets": stream.numel(),
        }
        log(
            f"test perplexity {out['test']['model_ppl']:.2f} -> {out['test']['cache_ppl']:.2f} "
            "with the same cache"
        )
    out["seconds"] = time.perf_counter() - t0
    return out
