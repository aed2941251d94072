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

from dataclasses import dataclass, fields
from typing import Callable, List, Optional

import utils
from common import worker_pool
from common.settings import setting

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


# the commands whose flags set a scoring field: `lm` and `lstm` after training, `cache` and
# `dynamic` on a saved checkpoint
AFTER_TRAINING, SHARE = ("lm", "lstm"), dict(low=0, high=1, open_high=True)


def _ngram_order(order) -> bool:
    return order == 0 or (not isinstance(order, bool) and order in NGRAM_ORDERS)


@dataclass
class Scoring:
    """The scoring of a trained model: each mode and its grid (a run's config extends this, so its
    flat fields are these). Each field is declared once (common/settings.py)."""

    cache_size: int = setting(
        0,
        "past tokens in the continuous cache (lm, lstm: 0 is none)",
        low=0,
        commands=(*AFTER_TRAINING, "cache", "dynamic"),
    )
    cache_thetas: List[float] = setting(CACHE_THETAS, "the cache's thetas tried on dev", low=0)
    cache_lambdas: List[float] = setting(CACHE_LAMBDAS, "the cache's weights tried on dev", **SHARE)
    dynamic_segment: int = setting(
        0,
        "dynamic evaluation's tokens between two steps (lm, lstm: 0 is none)",
        low=0,
        commands=(*AFTER_TRAINING, "dynamic"),
    )
    dynamic_lrs: List[float] = setting(
        DYNAMIC_LRS, "dynamic evaluation's step sizes tried", low=0, open_low=True
    )
    dynamic_decays: List[float] = setting(
        DYNAMIC_DECAYS, "dynamic evaluation's decays back to the trained weights", **SHARE
    )
    dynamic_tune_tokens: int = setting(
        DYNAMIC_TUNE_TOKENS, "the dev prefix the dynamic-evaluation grid is searched on", low=1
    )
    ngram_order: int = setting(
        0,
        "order of the Kneser-Ney n-gram model mixed with the network when scoring "
        "(lm, lstm: 0 is none)",
        kind=int,
        rule=_ngram_order,
        expected_text=f"0 (none) or a whole number from {NGRAM_ORDERS[0]} to {NGRAM_ORDERS[-1]}",
        commands=AFTER_TRAINING,
    )
    ngram_mus: List[float] = setting(NGRAM_MUS, "the n-gram model's weights tried on dev", **SHARE)

    GRIDS = ("cache_thetas", "cache_lambdas", "dynamic_lrs", "dynamic_decays", "ngram_mus")

    @classmethod
    def of(cls, config, **changes) -> "Scoring":
        """The scoring fields of a run's config, `changes` set by name."""
        return cls(**{**{f.name: getattr(config, f.name) for f in fields(cls)}, **changes})

    def as_lists(self) -> None:
        """The grids as lists (a config may be given tuples)."""
        for name in self.GRIDS:
            setattr(self, name, list(getattr(self, name)))


@dataclass
class Reader:
    """How scoring reads a model and a split. `features_of(model, stream, pad_id, batch_size)` gives
    (features (T, H), log p(x_t | x_<t) (T,)) in stream order (None: the fixed-window model's,
    lm/cache.features_and_log_probs); `dynamic_eval` is the dynamic-evaluation pass with
    lm/dynamic.dynamic_eval's signature (None: that one). `max_tokens` cuts dev and test to
    prefixes, `max_train_tokens` the train stream an n-gram model is counted from. `workers`:
    the processes that run dynamic evaluation's independent passes side by side (forked, one
    thread each; 1: in this process, one after another)."""

    features_of: Optional[Callable] = None
    dynamic_eval: Optional[Callable] = None
    batch_size: int = 4096
    max_tokens: Optional[int] = None
    max_train_tokens: Optional[int] = None
    log: Callable = print
    workers: int = 1


def scoring_workers(config) -> int:
    """The processes that score side by side (`Reader.workers`) for a run on `config.device`: one
    per core, at most 2, on a CPU; 1 on a GPU, where a forked process could not use CUDA."""
    on_cpu = utils.get_device(config.device).type == "cpu"
    return worker_pool.default_workers() if on_cpu else 1
