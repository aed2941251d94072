"""How a trained language model is scored after training: the settings that the fixed-window model
(lm/config.LMRunConfig) and the LSTM (lm/lstm.LSTMConfig) share, and how scoring reads a model.

`Scoring` holds the three scoring modes and the grids searched on dev: a continuous cache (Grave,
Joulin and Usunier 2017; lm/cache.py), dynamic evaluation (Krause et al. 2018; lm/dynamic.py) and
the mixture with an interpolated Kneser-Ney n-gram model (lm/ngram.py); a size or order of 0
switches a mode off. `Reader` holds what differs between the models when a split is read: the pass
that gives a stream's features and log-probabilities, the dynamic-evaluation pass, the batch size,
the prefixes of quick runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Callable, List, Optional

# the grids searched on dev: the cache's theta and lambda, dynamic evaluation's (lr, decay) on a dev
# prefix, the n-gram mixture's weight mu
CACHE_THETAS = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5]
CACHE_LAMBDAS = [0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4]
DYNAMIC_LRS = [0.05, 0.1, 0.2]
DYNAMIC_DECAYS = [0.002, 0.01]
DYNAMIC_SEGMENT = 50
DYNAMIC_TUNE_TOKENS = 50_000
NGRAM_MUS = [0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5]
NGRAM_ORDERS = range(2, 6)


@dataclass
class Scoring:
    """The scoring of a trained model: each mode and its grid (a run's config extends this, so its
    flat fields are these)."""

    # > 0: with a continuous cache of this many tokens (lm/cache.py)
    cache_size: int = 0
    cache_thetas: List[float] = field(default_factory=lambda: list(CACHE_THETAS))
    cache_lambdas: List[float] = field(default_factory=lambda: list(CACHE_LAMBDAS))
    # > 0: with dynamic evaluation in segments of this many tokens (lm/dynamic.py)
    dynamic_segment: int = 0
    dynamic_lrs: List[float] = field(default_factory=lambda: list(DYNAMIC_LRS))
    dynamic_decays: List[float] = field(default_factory=lambda: list(DYNAMIC_DECAYS))
    # the dev prefix the dynamic-evaluation grid is searched on
    dynamic_tune_tokens: int = DYNAMIC_TUNE_TOKENS
    # > 0: also mix the network with an interpolated Kneser-Ney model of this order (lm/ngram.py)
    ngram_order: int = 0
    ngram_mus: List[float] = field(default_factory=lambda: list(NGRAM_MUS))

    GRIDS = ("cache_thetas", "cache_lambdas", "dynamic_lrs", "dynamic_decays", "ngram_mus")

    @classmethod
    def of(cls, config, **changes) -> "Scoring":
        """The scoring fields of a run's config, `changes` set by name."""
        return cls(**{**{f.name: getattr(config, f.name) for f in fields(cls)}, **changes})

    def as_lists(self) -> None:
        """The grids as lists (a config may be given tuples)."""
        for name in self.GRIDS:
            setattr(self, name, list(getattr(self, name)))

    def validate_scoring(self) -> None:
        """The scoring fields, refused through the config's own `check` and `check_whole`."""
        for name in ("cache_size", "dynamic_segment"):
            self.check_whole(name, 0)
        self.check_whole("dynamic_tune_tokens", 1)
        for name, ok, expected in (
            ("cache_thetas", lambda t: math.isfinite(t) and t >= 0, "finite and >= 0"),
            ("cache_lambdas", lambda x: 0 <= x < 1, "in [0, 1)"),
            ("dynamic_lrs", lambda x: math.isfinite(x) and x > 0, "finite and > 0"),
            ("dynamic_decays", lambda x: 0 <= x < 1, "in [0, 1)"),
            ("ngram_mus", lambda x: 0 <= x < 1, "in [0, 1)"),
        ):
            values = getattr(self, name)
            self.check(name, len(values) > 0 and all(map(ok, values)), expected)
        order = self.ngram_order
        self.check(
            "ngram_order",
            order == 0 or (not isinstance(order, bool) and order in NGRAM_ORDERS),
            f"0 (none) or a whole number from {NGRAM_ORDERS[0]} to {NGRAM_ORDERS[-1]}",
        )


@dataclass
class Reader:
    """How scoring reads a model and a split. `features_of(model, stream, pad_id, batch_size)` gives
    (features (T, H), log p(x_t | x_<t) (T,)) in stream order (None: the fixed-window model's,
    lm/cache.features_and_log_probs); `dynamic_eval` is the dynamic-evaluation pass with
    lm/dynamic.dynamic_eval's signature (None: that one). `max_tokens` cuts dev and test to
    prefixes, `max_train_tokens` the train stream an n-gram model is counted from."""

    features_of: Optional[Callable] = None
    dynamic_eval: Optional[Callable] = None
    batch_size: int = 4096
    max_tokens: Optional[int] = None
    max_train_tokens: Optional[int] = None
    log: Callable = print
