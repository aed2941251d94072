"""An interpolated Kneser-Ney n-gram model counted from the train split, and its mixture with the
network as a scoring mode (Bengio, Ducharme, Vincent and Jauvin 2003).

Kneser and Ney. 1995. *Improved Backing-off for M-gram Language Modeling.* ICASSP.
Chen and Goodman. 1998. *An Empirical Study of Smoothing Techniques for Language Modeling.*
Harvard TR-10-98 (and Computer Speech and Language 13, 1999).
Bengio, Ducharme, Vincent and Jauvin. 2003. *A Neural Probabilistic Language Model.* JMLR 3.

The variant is Chen and Goodman's *modified* interpolated Kneser-Ney: three discounts per order,
D1, D2 and D3+, for n-grams seen once, twice and three times or more, estimated from that order's
count-of-counts n1..n4 (section 3 of the 1999 paper):

    Y = n1 / (n1 + 2 n2),  D1 = 1 - 2 Y n2/n1,  D2 = 2 - 3 Y n3/n2,  D3+ = 3 - 4 Y n4/n3.

For an order-k context h (k - 1 words) and a word w, with h' = h without its first word,

    p_k(w | h) = max(c_k(h w) - D(c_k(h w)), 0) / c_k(h .) + gamma_k(h) p_{k-1}(w | h'),
    gamma_k(h) = (D1 N1(h .) + D2 N2(h .) + D3+ N3+(h .)) / c_k(h .),

where N1(h .), N2(h .), N3+(h .) count the words seen after h once, twice and three times or more
at that order, and p_k(w | h) = p_{k-1}(w | h') when c_k(h .) = 0 (an unseen context). c_n is the
raw count at the highest order n; every lower order counts continuations instead,
c_k(x) = N1+(. x), the number of distinct words seen before the k-gram x (Kneser and Ney's idea: a
word that follows many different words is a likelier guess in a new context than one that is merely
frequent). The lowest order, the continuation unigram N1+(. w) / N1+(. .), is interpolated the same
way with the uniform distribution p_0(w) = 1 / V over the vocabulary, so that every word, unseen
ones included, gets probability > 0 and each distribution sums to one.

A count-of-counts estimate that is undefined (a zero n_i) or outside (0, i] (only on tiny corpora)
is replaced by Y, the single discount of plain interpolated KN (or 0.5 when n1 = 0), so every
discount is > 0. `discounts=` sets them by hand instead.

The stream start: with `pad_id=None` (the class's default) the first tokens of a stream use the
shorter history available (the recursion above, from the order whose context is there); with a
`pad_id`, every stream (the train split too) is read after order - 1 copies of it, as the network
reads its first contexts padded with nplm.corpus.pad_id_of(tokenizer) (`<eos>`); `score_with_ngram`
does the latter, so both models see the same contexts.

Counting and scoring are vectorised with numpy, no loop over tokens: the k-gram ending at position
i has the key (id of the (k-1)-gram ending at i - 1) * V + x_i and the id of that key's rank among
the train k-grams (np.unique), so keys fit in int64 at every order; a scored stream's n-grams are
found with searchsorted.

The mixture (Bengio et al. 2003, section 4.1, mixed the network with an interpolated trigram):
p(x_t) = (1 - mu) p_net(x_t) + mu p_kn(x_t), with mu chosen on the dev split from a grid and the
test split scored once with it (`score_mixture`, `score_with_ngram`). `mix_log_probs` gives the
mixed per-token log-probabilities for one mu, to hand to the continuous cache
(lm.cache.continuous_cache_nll((features, mixed), ...)).
"""

from __future__ import annotations

import math
import time
from typing import Sequence

import numpy as np
import torch

from lm.cache import cache_probs, continuous_cache_nll, read_splits
from lm.scoring import NGRAM_MUS, Reader, Scoring
from nplm.corpus import encode_stream, pad_id_of

MIN_ORDER, MAX_ORDER = 2, 5


# --------------------------------------------------------------------------- argument checks
def _check_order(order) -> int:
    if isinstance(order, bool) or not isinstance(order, (int, np.integer)):
        raise ValueError(f"the n-gram order must be a whole number in 2..5, got {order!r}")
    if not MIN_ORDER <= order <= MAX_ORDER:
        raise ValueError(
            f"the n-gram order must be in {MIN_ORDER}..{MAX_ORDER} (3 is a trigram), got {order}"
        )
    return int(order)


def _check_vocab_size(vocab_size) -> int:
    if (
        isinstance(vocab_size, bool)
        or not isinstance(vocab_size, (int, np.integer))
        or vocab_size < 1
    ):
        raise ValueError(
            f"vocab_size must be a whole number >= 1 (the tokenizer's vocab_size), got "
            f"{vocab_size!r}"
        )
    return int(vocab_size)


def _check_mus(mus) -> list[float]:
    mus = [float(m) for m in mus]
    if not mus or any(not (math.isfinite(m) and 0.0 <= m < 1.0) for m in mus):
        raise ValueError(
            f"the mixture weights mu must be in [0, 1) (0: the network alone), got {mus}"
        )
    return mus


def _as_ids(ids, vocab_size: int, what: str) -> np.ndarray:
    """A 1-D int64 array of ids in [0, vocab_size) from a tensor, array or list."""
    if isinstance(ids, torch.Tensor):
        ids = ids.detach().cpu().numpy()
    arr = np.asarray(ids)
    if arr.ndim != 1:
        raise ValueError(f"{what} must be a 1-D sequence of token ids, got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{what} must hold integer token ids, got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    if arr.size and (arr.min() < 0 or arr.max() >= vocab_size):
        raise ValueError(
            f"{what} has ids outside [0, {vocab_size}) (min {arr.min()}, max {arr.max()}): "
            "encode it with the tokenizer whose vocab_size the model was built with"
        )
    return arr


# --------------------------------------------------------------------------- discounts
def modified_kn_discounts(counts: np.ndarray) -> tuple[float, float, float]:
    """(D1, D2, D3+) from the count-of-counts of `counts` (Chen and Goodman 1999, eq. 26); an
    undefined estimate or one outside (0, i] falls back to Y = n1 / (n1 + 2 n2) (0.5 if n1 = 0)."""
    n = [int(np.count_nonzero(counts == i)) for i in (1, 2, 3, 4)]
    y = n[0] / (n[0] + 2 * n[1]) if n[0] > 0 else 0.5
    out = [y]
    for i in (2, 3):  # D2 from n2, n3; D3+ from n3, n4
        d = i - (i + 1) * y * n[i] / n[i - 1] if n[i - 1] > 0 else y
        out.append(d if 0.0 < d <= i else y)
    return out[0], out[1], out[2]


def _check_discounts(discounts, order: int) -> list[tuple[float, float, float]]:
    try:
        ds = [tuple(float(x) for x in d) for d in discounts]
    except TypeError:
        ds = []
    if len(ds) != order or any(len(d) != 3 for d in ds):
        raise ValueError(
            f"discounts must be {order} triples (D1, D2, D3+), the unigram level first, got "
            f"{discounts!r}"
        )
    for d in ds:
        if not all(0.0 < x <= i for i, x in zip((1, 2, 3), d)):
            raise ValueError(f"each triple needs 0 < D1 <= 1, 0 < D2 <= 2, 0 < D3+ <= 3, got {d}")
    return ds


# --------------------------------------------------------------------------- the model
class KneserNey:
    """Modified interpolated Kneser-Ney (Chen and Goodman 1999) of `order` 2..5, counted from the
    1-D token ids `train_ids` over a vocabulary of `vocab_size` words (see the module's docstring).

    After construction: `discounts[k - 1]` is (D1, D2, D3+) of order k (k = 1: the continuation
    unigram), and `count_seconds` the time counting took.
    """

    def __init__(
        self,
        train_ids,
        vocab_size: int,
        order: int = 3,
        pad_id: int | None = None,
        discounts: Sequence[Sequence[float]] | None = None,
    ):
        t0 = time.perf_counter()
        self.order = _check_order(order)
        self.vocab_size = V = _check_vocab_size(vocab_size)
        if pad_id is not None and (
            isinstance(pad_id, bool)
            or not isinstance(pad_id, (int, np.integer))
            or not 0 <= pad_id < V
        ):
            raise ValueError(
                f"pad_id must be None (the shorter history at a stream's start) or an id in "
                f"[0, {V}), got {pad_id!r}"
            )
        self.pad_id = None if pad_id is None else int(pad_id)
        train = _as_ids(train_ids, V, "train_ids")
        if train.size == 0:
            raise ValueError("train_ids is empty: count the model from a non-empty train stream")
        n = self.order
        s = self._padded(train)
        # keys[k]: the sorted distinct keys of the train k-grams (k = 1..n); keys[0] is the empty
        # context. A key is (id of the (k-1)-gram prefix) * V + last word, so key // V is the
        # context's id at order k - 1 and key % V the word.
        self.keys: list[np.ndarray] = [np.zeros(1, dtype=np.int64)]
        grams = [np.zeros(s.size, dtype=np.int64)]  # grams[k][i]: id of the k-gram ending at i
        counts = [np.zeros(1, dtype=np.int64)]
        for k in range(1, n + 1):
            prev = self._shifted(grams[k - 1], k)  # the context's id at each position
            valid = prev >= 0
            key = prev[valid] * V + s[valid]
            uniq, inverse, cnt = np.unique(key, return_inverse=True, return_counts=True)
            g = np.full(s.size, -1, dtype=np.int64)
            g[valid] = inverse
            self.keys.append(uniq)
            grams.append(g)
            counts.append(cnt)
        # c_k: raw counts at order n, continuation counts N1+(. x) below it
        self.counts: list[np.ndarray] = [counts[0]] + [None] * n  # type: ignore[list-item]
        self.counts[n] = counts[n]
        for k in range(n, 1, -1):
            valid = grams[k] >= 0  # where a k-gram ends, its (k-1)-gram suffix ends too
            suffix = np.empty(self.keys[k].size, dtype=np.int64)
            suffix[grams[k][valid]] = grams[k - 1][valid]
            self.counts[k - 1] = np.bincount(suffix, minlength=self.keys[k - 1].size)
        if discounts is None:
            self.discounts = [modified_kn_discounts(self.counts[k]) for k in range(1, n + 1)]
        else:
            self.discounts = _check_discounts(discounts, n)
        # per order: each k-gram's discounted count and each context's total and gamma
        self.numerators: list[np.ndarray] = [None]  # type: ignore[list-item]
        self.totals: list[np.ndarray] = [None]  # type: ignore[list-item]
        self.gammas: list[np.ndarray] = [None]  # type: ignore[list-item]
        for k in range(1, n + 1):
            c = self.counts[k].astype(np.float64)
            d = np.asarray((0.0,) + self.discounts[k - 1])[np.minimum(self.counts[k], 3)]
            contexts = self.keys[k] // V
            total = np.bincount(contexts, weights=c, minlength=self.keys[k - 1].size)
            mass = np.bincount(contexts, weights=d, minlength=self.keys[k - 1].size)
            seen = total > 0
            self.numerators.append(np.maximum(c - d, 0.0))
            self.totals.append(total)
            self.gammas.append(np.divide(mass, total, out=np.ones_like(total), where=seen))
        self.count_seconds = time.perf_counter() - t0

    def __repr__(self) -> str:
        return (
            f"KneserNey(order={self.order}, vocab_size={self.vocab_size}, pad_id={self.pad_id}, "
            f"{self.keys[self.order].size:,} distinct {self.order}-grams)"
        )

    def _padded(self, ids: np.ndarray) -> np.ndarray:
        if self.pad_id is None:
            return ids
        return np.concatenate([np.full(self.order - 1, self.pad_id, dtype=np.int64), ids])

    @staticmethod
    def _shifted(grams: np.ndarray, k: int) -> np.ndarray:
        """The order-k context id at each position: the (k-1)-gram id one position back (-1 at the
        first position), or 0, the empty context, for k = 1."""
        if k == 1:
            return np.zeros(grams.size, dtype=np.int64)
        out = np.full(grams.size, -1, dtype=np.int64)
        out[1:] = grams[:-1]
        return out

    def _lookup(self, k: int, context_ids: np.ndarray, words: np.ndarray) -> np.ndarray:
        """Ids of the k-grams (context id at order k - 1, word); -1 where not seen in train."""
        keys = self.keys[k]
        key = np.where(context_ids >= 0, context_ids, 0) * self.vocab_size + words
        pos = np.minimum(np.searchsorted(keys, key), keys.size - 1)
        return np.where((context_ids >= 0) & (keys[pos] == key), pos, -1)

    def _probs(self, contexts: list[np.ndarray], words: np.ndarray) -> np.ndarray:
        """p_n(word | context) in float64, bottom up from the uniform distribution; contexts[k - 1]
        holds each query's context id at order k (a (k-1)-gram id, -1 if unseen or absent)."""
        p = np.full(words.shape, 1.0 / self.vocab_size)
        for k in range(1, self.order + 1):
            h = contexts[k - 1]
            g = self._lookup(k, h, words)
            hh = np.where(h >= 0, h, 0)
            total = np.where(h >= 0, self.totals[k][hh], 0.0)
            seen = total > 0
            num = np.where(g >= 0, self.numerators[k][np.where(g >= 0, g, 0)], 0.0)
            p_k = num / np.where(seen, total, 1.0) + self.gammas[k][hh] * p
            p = np.where(seen, p_k, p)
        return p

    def target_log_probs(self, stream) -> torch.Tensor:
        """log p_kn(x_t | the n - 1 tokens before it in `stream`) for every token, in stream order:
        a float64 tensor (T,), the targets the network scores (features_and_log_probs)."""
        ids = _as_ids(stream, self.vocab_size, "stream")
        s = self._padded(ids)
        lead = s.size - ids.size
        # grams[k][i]: id of the train k-gram ending at position i of s (-1: unseen or too early)
        grams = [np.zeros(s.size, dtype=np.int64)]
        for k in range(1, self.order):
            grams.append(self._lookup(k, self._shifted(grams[k - 1], k), s))
        # the context of order k at i: the (k-1)-gram ending at i - 1
        contexts = [self._shifted(grams[k - 1], k)[lead:] for k in range(1, self.order + 1)]
        return torch.from_numpy(np.log(self._probs(contexts, s[lead:])))

    def _context_ids(self, context: np.ndarray) -> list[int]:
        """The id at order k - 1 of the last k - 1 words of `context`, for k = 1..n (-1: unseen)."""
        out = [0]
        for k in range(2, self.order + 1):
            if len(context) < k - 1:  # the stream's start without padding: no such context
                out.append(-1)
                continue
            gid = 0  # the (k-1)-gram's id, built up word by word: its prefixes' ids in turn
            for j, w in enumerate(context[len(context) - (k - 1) :]):
                gid = int(self._lookup(j + 1, np.array([gid]), np.array([w]))[0])
                if gid < 0:
                    break
            out.append(gid)
        return out

    def distribution(self, context) -> torch.Tensor:
        """p_kn(. | context) over the vocabulary, a float64 tensor (V,) summing to one. `context` is
        the tokens before the target (only the last n - 1 count; fewer: a stream's start, padded
        with pad_id or read with the shorter history as target_log_probs reads it)."""
        ctx = _as_ids(context, self.vocab_size, "context")
        if self.pad_id is not None:
            ctx = self._padded(ctx)
        ids = self._context_ids(ctx)
        words = np.arange(self.vocab_size, dtype=np.int64)
        contexts = [np.full(self.vocab_size, h, dtype=np.int64) for h in ids]
        return torch.from_numpy(self._probs(contexts, words))


# --------------------------------------------------------------------------- the mixture
def _as_log_probs(log_probs, what: str) -> torch.Tensor:
    lp = torch.as_tensor(log_probs).detach().cpu().double().reshape(-1)
    if lp.numel() == 0:
        raise ValueError(f"{what} is empty: one log-probability per target is needed")
    return lp


def mix_log_probs(model_log_probs, ngram_log_probs, mu: float) -> torch.Tensor:
    """log((1 - mu) p_net + mu p_kn) per token, float64 (T,) (logaddexp; mu = 0 gives the
    network's log-probs exactly). Feed it to lm.cache.continuous_cache_nll as `log_probs`."""
    (mu,) = _check_mus([mu])
    a = _as_log_probs(model_log_probs, "model_log_probs")
    b = _as_log_probs(ngram_log_probs, "ngram_log_probs")
    if a.shape != b.shape:
        raise ValueError(
            f"model_log_probs {tuple(a.shape)} and ngram_log_probs {tuple(b.shape)} must score "
            "the same targets"
        )
    if mu == 0.0:
        return a.clone()
    return torch.logaddexp(math.log1p(-mu) + a, math.log(mu) + b)


def mixture_nll(model_log_probs, ngram_log_probs, mus) -> torch.Tensor:
    """Mean negative log-likelihood per token of the mixture for each mu: float64 (len(mus),)."""
    mus = _check_mus(mus)
    return torch.stack([-mix_log_probs(model_log_probs, ngram_log_probs, mu).mean() for mu in mus])


def score_mixture(dev, test=None, mus=None, ngram: KneserNey | None = None, log=print) -> dict:
    """Choose mu on dev (the grid's lowest perplexity), then score test once with it (Bengio et al.
    2003); `dev` and `test` (None: no test) are each (the network's log-probs, the n-gram model's).
    Returns {method, order, discounts, mus, grid_dev_ppl, mu, dev: {model_ppl, ngram_ppl,
    mix_ppl, targets}, test: {...} (when test log-probs are given), seconds}; order and discounts
    come from `ngram` (None without it)."""
    t0 = time.perf_counter()
    mus = _check_mus(NGRAM_MUS if mus is None else mus)
    dev_model_log_probs, dev_ngram_log_probs = dev
    test_model_log_probs, test_ngram_log_probs = (None, None) if test is None else test
    if (test_model_log_probs is None) != (test_ngram_log_probs is None):
        raise ValueError("give both test_model_log_probs and test_ngram_log_probs, or neither")
    out = {
        "method": "mixture with modified interpolated Kneser-Ney (Bengio et al. 2003; Chen and "
        "Goodman 1999), mu tuned on dev",
        "order": None if ngram is None else ngram.order,
        "discounts": None if ngram is None else [list(d) for d in ngram.discounts],
        "mus": mus,
    }
    grid = mixture_nll(dev_model_log_probs, dev_ngram_log_probs, mus)
    best = int(torch.argmin(grid))
    mu = mus[best]
    out["grid_dev_ppl"] = [math.exp(v) for v in grid.tolist()]
    out["mu"] = mu

    def split(model_lp, ngram_lp, mix_nll):
        a, b = _as_log_probs(model_lp, "model log-probs"), _as_log_probs(ngram_lp, "n-gram ones")
        return {
            "model_ppl": math.exp(-a.mean().item()),
            "ngram_ppl": math.exp(-b.mean().item()),
            "mix_ppl": math.exp(mix_nll),
            "targets": a.numel(),
        }

    out["dev"] = split(dev_model_log_probs, dev_ngram_log_probs, grid[best].item())
    name = "n-gram" if ngram is None else f"{ngram.order}-gram KN"
    log(
        f"network + {name}: mu {mu} (chosen on dev); dev perplexity "
        f"{out['dev']['model_ppl']:.2f} (network), {out['dev']['ngram_ppl']:.2f} (n-gram) -> "
        f"{out['dev']['mix_ppl']:.2f}"
    )
    if len(mus) > 1 and best == len(mus) - 1:
        log(f"mu {mu} is the grid's largest: a grid reaching higher may do better on dev")
    if test_model_log_probs is not None:
        nll = mixture_nll(test_model_log_probs, test_ngram_log_probs, [mu])[0].item()
        out["test"] = split(test_model_log_probs, test_ngram_log_probs, nll)
        log(
            f"test perplexity {out['test']['model_ppl']:.2f} (network), "
            f"{out['test']['ngram_ppl']:.2f} (n-gram) -> {out['test']['mix_ppl']:.2f} with the "
            "same mu"
        )
    out["seconds"] = time.perf_counter() - t0
    return out


def add_cache(out: dict, per_token: dict, cache_size: int, thetas, lambdas, log=print) -> dict:
    """The continuous cache on top of the mixture that `out` (score_mixture's dict) chose: theta
    and lambda chosen on dev, test scored once with them. per_token[split] = {stream, features,
    mixed}; adds out["cache"] = {cache_size, theta, lambda} and out[split]["mix_cache_ppl"]."""
    thetas, lambdas = list(thetas), list(lambdas)
    dev = per_token["dev"]
    # (K, M)
    grid = continuous_cache_nll(
        (dev["features"], dev["mixed"]),
        dev["stream"],
        cache_size,
        thetas,
        lambdas,
        probs=cache_probs(dev, cache_size),
    )
    k, m = divmod(int(torch.argmin(grid)), len(lambdas))
    out["cache"] = {"cache_size": cache_size, "theta": thetas[k], "lambda": lambdas[m]}
    out["dev"]["mix_cache_ppl"] = math.exp(grid[k, m].item())
    if "test" in per_token:
        test = per_token["test"]
        probs = cache_probs(test, cache_size)
        nll = continuous_cache_nll(
            (test["features"], test["mixed"]),
            test["stream"],
            cache_size,
            [thetas[k]],
            [lambdas[m]],
            probs=probs,
        )[0, 0].item()
        out["test"]["mix_cache_ppl"] = math.exp(nll)
    log(
        f"+ continuous cache (theta {thetas[k]}, lambda {lambdas[m]}, chosen on dev): dev "
        f"perplexity {out['dev']['mix_cache_ppl']:.2f}"
        + (f", test {out['test']['mix_cache_ppl']:.2f}" if "test" in per_token else "")
    )
    return out


def count_ngram(tokenizer, train_data, order: int = 3, max_train_tokens=None, log=print):
    """The `order`-gram model of train_data's stream, contexts padded as the network pads them."""
    train = encode_stream(train_data, tokenizer, max_train_tokens)
    ngram = KneserNey(train, tokenizer.vocab_size, order, pad_id=pad_id_of(tokenizer))
    log(f"{ngram!r} counted from {train.numel():,} train tokens in {ngram.count_seconds:.1f} s")
    return ngram


def score_with_ngram(
    model, tokenizer, splits, scoring: Scoring, reader: Reader = Reader(), ngram=None, passes=None
):
    """Count a scoring.ngram_order-gram Kneser-Ney model from the train split of `splits` (train,
    dev, test or None) in the network's vocabulary, contexts padded as the network pads them; score
    dev (and test) with it and with the network (as `reader` reads it), and mix them
    (`score_mixture`, mu from scoring.ngram_mus). A counted `ngram` is used as it is (train and the
    order are then not read). With scoring.cache_size > 0 the cache is also put over the mixture
    (`mix_passes`). Returns (the dict, with count_seconds; per_token), per_token[split] = {stream,
    features, model, ngram, mixed} (mixed with the chosen mu), e.g. for
    continuous_cache_nll((features, mixed), stream, ...). `passes` (lm/cache.read_splits' dict,
    shared with the cache) is used, and filled, in place of reading dev and test again."""
    train_data, dev_data, test_data = splits
    t0 = time.perf_counter()
    if ngram is None:
        order = _check_order(scoring.ngram_order)
        ngram = count_ngram(tokenizer, train_data, order, reader.max_train_tokens, reader.log)
    if passes is None:
        passes = read_splits(model, tokenizer, (dev_data, test_data), reader)
    per_token = passes
    out = mix_passes(ngram, per_token, scoring, reader.log)
    out["count_seconds"] = ngram.count_seconds
    out["seconds"] = time.perf_counter() - t0
    return out, per_token


def mix_passes(ngram, passes: dict, scoring: Scoring, log=print):
    """A model's per-token scores, passes[split] = {stream, features, model} (dev, and test if
    there), mixed with the n-gram model (`score_mixture`: mu chosen on dev from
    scoring.ngram_mus), then with scoring.cache_size > 0 the cache over the mixture (`add_cache`).
    Adds passes[split]["ngram"] and ["mixed"]; returns score_mixture's dict."""
    for split in passes.values():
        split["ngram"] = ngram.target_log_probs(split["stream"])
    dev, test = passes["dev"], passes.get("test")
    out = score_mixture(
        (dev["model"], dev["ngram"]),
        None if test is None else (test["model"], test["ngram"]),
        mus=scoring.ngram_mus,
        ngram=ngram,
        log=log,
    )
    for split in passes.values():
        split["mixed"] = mix_log_probs(split["model"], split["ngram"], out["mu"])
    if scoring.cache_size:
        grids = (scoring.cache_thetas, scoring.cache_lambdas)
        add_cache(out, passes, scoring.cache_size, *grids, log=log)
    return out
