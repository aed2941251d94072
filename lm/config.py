"""The config of `python main.py lm`: the course's fields (mlp_lm.LMConfig) and ours, off unless
set, with the presets of our runs.

Ours: the model's additions (nplm/output.py, nplm/context.py), the training's (nplm/average.py,
nplm/optim.py, nplm/kernels.py), where and how a run trains (device, threads, checkpoints), and how
its best model is scored after training (lm/cache.py, lm/dynamic.py, lm/ngram.py).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import List, Optional

from common.settings import setting
from lm.scoring import DYNAMIC_SEGMENT, Scoring
from mlp_lm import LM, SHARE, LMConfig
from nplm.optim import SCHEDULES
from nplm.output import CUTOFFS, DEFAULT_CUTOFFS


WHOLE_OR_NONE = dict(kind=int, low=1, optional=True)


def _share(help: str, flag: str | None = None):
    """A share in [0, 1), off unless set, that `lm` takes (as `flag`, or --the-field-name)."""
    return setting(0.0, help, **SHARE, flag=flag, commands=LM)


@dataclass
class LMRunConfig(Scoring, LMConfig):
    """mlp_lm.LMConfig (the course's fields), lm/scoring.Scoring (how the best model is scored after
    training, off unless set) and ours, off unless set; attribute access like the course's EasyDict
    (`as_run_config` converts one)."""

    # ours, opt-in: the model (nplm/output.py, nplm/context.py)
    output_layer: str = setting(
        "full",
        "adaptive softmax (Grave et al. 2017) or the course's full softmax",
        choices=("full", "adaptive"),
        commands=LM,
    )
    cutoffs: List[int] = setting(
        DEFAULT_CUTOFFS, "the adaptive softmax's cluster bounds", **CUTOFFS, commands=LM
    )
    div_value: float = setting(
        4.0, "the adaptive softmax's width ratio per cluster", low=0, open_low=True, commands=LM
    )
    global_window: int = setting(
        0,
        "far words before the window averaged into a global context (0: none; Sun and Iyyer 2021)",
        low=0,
        commands=LM,
    )
    global_chunks: int = setting(
        1, "equal chunks of the far words, one mean each", low=1, commands=LM
    )
    global_pool: str = setting(
        "mean",
        "how each chunk of far words is pooled: mean, or kernel (a learned weight per position)",
        choices=("mean", "kernel"),
        commands=LM,
    )
    global_dropout_p: float = _share(
        "share of training examples whose far words are hidden, in [0, 1)", "--global-dropout"
    )
    tie_embeddings: bool = setting(
        False,
        "output word vectors shared with the input embeddings (on or off; Press and Wolf 2017)",
        commands=LM,
    )
    embed_dropout_p: float = _share(
        "share of word types dropped from a batch's input lookups, in [0, 1) (Gal 2016)",
        "--embed-dropout",
    )
    input_dropout_p: float = _share(
        "dropout on the concatenated context vectors, in [0, 1)", "--input-dropout"
    )
    # ours, opt-in: the training (nplm/average.py, nplm/optim.py, nplm/kernels.py)
    ema_decay: float = _share("weight-average decay, in [0, 1) (0: score the last iterate)")
    optimizer: str = setting(
        "adam",
        "adamw (fused where torch has it) or the course's adam",
        choices=("adam", "adamw"),
        commands=LM,
    )
    weight_decay: float = setting(0.0, "decoupled weight decay", low=0, commands=LM)
    schedule: str = setting(
        "exponential",
        "learning-rate schedule after the warmup (exponential: the course's ExponentialLR)",
        choices=tuple(SCHEDULES),
        expected_text=f"one of {sorted(SCHEDULES)}",
        commands=LM,
    )
    warmup_steps: int = setting(0, "linear warmup steps", low=0, commands=LM)
    patience: Optional[int] = setting(
        None,
        "stop after this many epochs without a better dev perplexity",
        kind=int,
        low=1,
        optional=True,
        commands=LM,
    )
    fast: bool = setting(
        False,
        "our kernels and batches, or the course's DataLoader pipeline (on or off)",
        commands=LM,
    )
    # --device is every command's (cli/flags.py); a preset may name one
    device: str = setting(
        "cpu",
        "auto (CUDA, then MPS, then the CPU), cpu, cuda, cuda:N or mps",
        expected_text="a device name, such as 'auto'",
    )
    precision: str = setting(
        "fp32",
        "bf16: autocast where the device supports it",
        choices=("fp32", "bf16"),
        commands=LM,
    )
    eval_batch_size: Optional[int] = setting(
        None, "batch size for scoring (None: batch_size)", **WHOLE_OR_NONE, commands=LM
    )
    # data and bookkeeping
    max_train_tokens: Optional[int] = setting(
        None, "train on a prefix of this many tokens", **WHOLE_OR_NONE, commands=LM
    )
    max_dev_tokens: Optional[int] = setting(
        None, "score dev and test prefixes of this many tokens", **WHOLE_OR_NONE, commands=LM
    )
    min_count: int = setting(1, "words seen fewer times in train become <unk>", low=1, commands=LM)
    # --seed is every command's (cli/flags.py)
    seed: int = setting(42, "the run's seed", low=0)
    num_threads: Optional[int] = setting(
        None,
        "torch threads while training (None: torch's choice)",
        **WHOLE_OR_NONE,
        flag="--threads",
        commands=LM,
    )
    print_every: int = setting(100, "log every this many steps (0: never)", low=0, commands=LM)
    state_every_s: float = setting(
        180.0,
        "seconds between saves of the training state within an epoch, for --resume (it is also "
        "saved after every epoch and on Ctrl-C or SIGTERM)",
        low=0,
        flag="--state-every",
        commands=LM,
    )
    name: str = setting("course", "the preset's or the run's name")

    # Where and how a run is watched, how its best model is scored: not what it trains (may change
    # on resuming).
    NOT_TRAINED = (
        "num_threads",
        "print_every",
        "state_every_s",
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
        """Every field against its setting (LMConfig.validate), then what ties two fields together:
        utils.ConfigError naming the first field out of range, before any data is read."""
        super().validate()
        self.check(
            "global_chunks",
            not self.global_window or self.global_window % self.global_chunks == 0,
            f"a divisor of global_window ({self.global_window})",
        )

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
