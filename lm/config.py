"""The config of `python main.py lm`: the course's fields (mlp_lm.LMConfig) and ours, off unless
set, with the presets of our runs.

Ours: the model's additions (nplm/output.py, nplm/context.py), the training's (nplm/average.py,
nplm/optim.py, nplm/kernels.py), where and how a run trains (device, threads, checkpoints), and how
its best model is scored after training (lm/cache.py, lm/dynamic.py, lm/ngram.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import List, Optional

from lm.scoring import DYNAMIC_SEGMENT, Scoring
from mlp_lm import LMConfig
from nplm.optim import SCHEDULES


@dataclass
class LMRunConfig(Scoring, LMConfig):
    """mlp_lm.LMConfig (the course's fields), lm/scoring.Scoring (how the best model is scored after
    training, off unless set) and ours, off unless set; attribute access like the course's EasyDict
    (`as_run_config` converts one)."""

    # ours, opt-in: the model (nplm/output.py, nplm/context.py)
    # "full" (the course's softmax) or "adaptive" (Grave et al. 2017)
    output_layer: str = "full"
    # adaptive softmax clusters
    cutoffs: List[int] = field(default_factory=lambda: [1022, 9982])
    div_value: float = 4.0
    # far words before the window whose mean embedding is added (Sun and Iyyer 2021)
    global_window: int = 0
    # ... cut into this many equal chunks, one mean each
    global_chunks: int = 1
    # "mean", or "kernel": a learned weight per far position
    global_pool: str = "mean"
    # share of training examples whose far words are hidden
    global_dropout_p: float = 0.0
    # output word vectors are the input embeddings (Press and Wolf 2017)
    tie_embeddings: bool = False
    # share of word types whose input embedding is dropped per batch (Gal 2016)
    embed_dropout_p: float = 0.0
    # dropout on the concatenated context vectors, before the first linear
    input_dropout_p: float = 0.0
    # ours, opt-in: the training (nplm/average.py, nplm/optim.py, nplm/kernels.py)
    # > 0: score and save an exponential moving average of the weights
    ema_decay: float = 0.0
    # "adam" (the course's) or "adamw" (fused where torch has it)
    optimizer: str = "adam"
    weight_decay: float = 0.0
    # the course's ExponentialLR(decay), or "cosine"/"linear"/"constant" + warmup
    schedule: str = "exponential"
    warmup_steps: int = 0
    # stop after this many epochs without a better dev perplexity
    patience: Optional[int] = None
    # nplm/kernels.py's training step and nplm/corpus.WindowBatches instead of a DataLoader
    fast: bool = False
    # "auto" (CUDA, then MPS, then CPU), "cpu", "cuda", "cuda:N" or "mps"
    device: str = "cpu"
    # or "bf16": bfloat16 autocast for the forward passes
    precision: str = "fp32"
    # None: batch_size
    eval_batch_size: Optional[int] = None
    # data and bookkeeping
    # a prefix of the training stream (quick runs)
    max_train_tokens: Optional[int] = None
    max_dev_tokens: Optional[int] = None
    # words seen fewer times in train map to <unk>
    min_count: int = 1
    seed: int = 42
    # torch threads while training (None: torch's choice)
    num_threads: Optional[int] = None
    print_every: int = 100
    name: str = "course"

    # Where and how a run is watched, how its best model is scored: not what it trains (may change
    # on resuming).
    NOT_TRAINED = (
        "num_threads",
        "print_every",
        "device",
        "cache_size",
        "dynamic_segment",
        "cache_thetas",
        "cache_lambdas",
        "dynamic_lrs",
        "dynamic_decays",
        "dynamic_tune_tokens",
        "ngram_order",
        "ngram_mus",
    )
    # Model parts and scoring modes added after runs were saved: a config without them ran without
    # them, even where its preset has them on now.
    ADDED_OFF = {
        "tie_embeddings": False,
        "embed_dropout_p": 0.0,
        "input_dropout_p": 0.0,
        "dynamic_segment": 0,
        "global_pool": "mean",
    }
    # None: unset
    OPTIONAL = (
        "patience",
        "eval_batch_size",
        "max_train_tokens",
        "max_dev_tokens",
        "num_threads",
    )

    def __post_init__(self):
        self.cutoffs = list(self.cutoffs)
        self.as_lists()
        super().__post_init__()

    @property
    def eval_batch(self) -> int:
        """The batch size for scoring: eval_batch_size, else batch_size (the course's config has
        none)."""
        return self.eval_batch_size or self.batch_size

    def validate(self) -> None:
        """The course's fields (LMConfig.validate), then ours: utils.ConfigError naming the first
        field out of range, before any data is read. The one place where these values are
        checked: main.py's flags set them and leave the ranges to it."""
        super().validate()
        for name in (
            "global_chunks",
            "min_count",
            "patience",
            "eval_batch_size",
            "max_train_tokens",
            "max_dev_tokens",
            "num_threads",
        ):
            self.check_whole(name, 1)
        for name in ("global_window", "warmup_steps", "print_every", "seed"):
            self.check_whole(name, 0)
        for name in ("global_dropout_p", "embed_dropout_p", "input_dropout_p", "ema_decay"):
            self.check(name, 0.0 <= getattr(self, name) < 1.0, "in [0, 1)")
        self.check(
            "div_value", math.isfinite(self.div_value) and self.div_value > 0, "finite and > 0"
        )
        self.check(
            "weight_decay",
            math.isfinite(self.weight_decay) and self.weight_decay >= 0,
            "finite and >= 0",
        )
        for name, choices in (
            ("output_layer", ("full", "adaptive")),
            ("optimizer", ("adam", "adamw")),
            ("precision", ("fp32", "bf16")),
            ("global_pool", ("mean", "kernel")),
        ):
            self.check(name, getattr(self, name) in choices, " or ".join(map(repr, choices)))
        self.check("schedule", self.schedule in SCHEDULES, f"one of {sorted(SCHEDULES)}")
        self.check("tie_embeddings", isinstance(self.tie_embeddings, bool), "True or False")
        self.check(
            "device",
            isinstance(self.device, str) and self.device != "",
            "a device name, such as 'auto'",
        )
        self.check(
            "cutoffs",
            all(isinstance(c, int) and c > 0 for c in self.cutoffs)
            and self.cutoffs == sorted(set(self.cutoffs)),
            "increasing whole numbers > 0",
        )
        self.check(
            "global_chunks",
            not self.global_window or self.global_window % self.global_chunks == 0,
            f"a divisor of global_window ({self.global_window})",
        )
        self.validate_scoring()

    @classmethod
    def presets(cls) -> dict:
        """'course' (the course's fields), 'default' (`python main.py lm`: < 20 min on 2 cores),
        'long' (wider, more epochs) and 'quick' (a small slice, seconds): the fields each sets.
        Ours also score the best model with a cache of 2000 tokens, a Kneser-Ney mixture and
        dynamic evaluation, the quick one on a small grid."""
        ours = dict(
            local_window_size=8,
            num_blocks=1,
            batch_size=2048,
            eval_batch_size=4096,
            lr=3e-3,
            num_epochs=4,
            output_layer="adaptive",
            global_window=64,
            global_dropout_p=0.1,
            ema_decay=0.998,
            optimizer="adamw",
            # 0.01 overfits after epoch 3 (docs/results.md, the ablation)
            weight_decay=0.1,
            schedule="cosine",
            warmup_steps=100,
            patience=2,
            fast=True,
            device="auto",
            num_threads=2,
            print_every=200,
            save_path="checkpoints/mlp_lm.pt",
            tie_embeddings=True,
        )
        scoring = {"cache_size": 2000, "dynamic_segment": DYNAMIC_SEGMENT, "ngram_order": 5}
        return {
            "course": {},
            "default": {**ours, **scoring},
            "long": {
                **ours,
                **scoring,
                "hidden_dim": 1024,
                "dropout_p": 0.3,
                "global_window": 256,
                "global_chunks": 4,
                "ema_decay": 0.999,
                "lr": 2e-3,
                "num_epochs": 5,
                # as it ran (reference/mlp_lm_long.json)
                "weight_decay": 0.01,
            },
            "quick": {
                **ours,
                **scoring,
                "embed_dim": 64,
                "hidden_dim": 128,
                "batch_size": 256,
                "num_epochs": 2,
                "max_train_tokens": 100_000,
                "max_dev_tokens": 20_000,
                "warmup_steps": 20,
                "print_every": 100,
                "dropout_p": 0.1,
                "dynamic_lrs": [0.1],
                "dynamic_decays": [0.002],
                "dynamic_tune_tokens": 5_000,
            },
        }

    @classmethod
    def preset(cls, name: str, **overrides) -> "LMRunConfig":
        """The config of preset `name` (see `presets`); `overrides` set fields by name."""
        presets = cls.presets()
        if name not in presets:
            raise ValueError(f"unknown LM config {name!r}; choose from {sorted(presets)}")
        return cls(**{**presets[name], "name": name, **overrides})

    @classmethod
    def from_dict(cls, saved: dict, **overrides) -> "LMRunConfig":
        """The config a run saved (`to_dict`, in its JSON): fields added since come from its preset
        (off for the model parts of ADDED_OFF), fields since removed are dropped; `overrides` set
        fields by name."""
        known = {f.name for f in fields(cls)}
        values = {**cls.ADDED_OFF, **{k: v for k, v in saved.items() if k in known}}
        name = values.pop("name", "course")
        return cls.preset(name, **{**values, **overrides})


def as_run_config(config) -> LMRunConfig:
    """An LMRunConfig from any attribute-access config (the course's EasyDict, a namespace, an
    LMConfig): the fields it has, the course's values for the rest. Validated here, once."""
    if isinstance(config, LMRunConfig):
        return config
    values = {}
    for f in fields(LMRunConfig):
        try:
            values[f.name] = getattr(config, f.name)
        except (AttributeError, KeyError):
            pass
    return LMRunConfig(**values)
