"""A fixed-window neural language model, as homework 3 of CS 601.471/671 builds it, on WikiText-2.

Bengio, Ducharme, Vincent and Jauvin. 2003. *A Neural Probabilistic Language Model.* JMLR
3:1137-1155.

The model reads the W words before a position, looks up an embedding for each, concatenates them,
and maps the result through a tanh layer and residual blocks to a distribution over the next word.
The file reads top to bottom: the config, the three blocks and the `NPLM` that stacks them, `train`
and `evaluate`, generation, and the course's two entry points, `run_mlp_lm` and
`sample_from_mlp_lm`.

Given a course config (an EasyDict with the course's fields), these functions build and train the
course's model the course's way: a full softmax, `nn.Dropout`, a DataLoader over a TensorDataset of
windows, Adam and ExponentialLR(decay); `train` leaves a plain state_dict at `save_path`. What we
add is an opt-in config field, off unless set, that enters through a named hook from a module of its
own: nplm/output.py (adaptive softmax, tied embeddings), nplm/context.py (global context, word-type
and input dropout), nplm/average.py (weight average), nplm/optim.py (AdamW, schedules),
nplm/kernels.py and nplm/corpus.py (fast kernels and batches), nplm/distributed.py (torchrun),
nplm/bookkeeping.py and nplm/checkpoint.py (early stopping, checkpoints, resume). `python main.py
lm` (lm/run.py) turns on the ones that help, and scores the model with lm/cache.py and
lm/dynamic.py.
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import math
import time
from dataclasses import dataclass, field
from typing import List, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from nplm import distributed
import utils
from nplm.average import WeightAverage
from nplm.bookkeeping import TrainedLM, TrainingRun, TrainOptions, fit_report
from nplm.checkpoint import check_resumable, load_model, load_training_state
from nplm.checkpoint import CheckpointError  # noqa: F401 (what load_checkpoint raises)
from nplm.context import ContextAdditions
from nplm.corpus import WindowBatches, WordTokenizer, encode_stream, pad_id_of, texts_of
from nplm.corpus import windows_from_stream
from nplm.corpus import load_data_mlp_lm, preprocess_data  # noqa: F401 (the course's names)
from nplm.kernels import softmax_nll, use_bit_dropout
from nplm.optim import SCHEDULES, make_optimizer
from nplm.output import NPLMAdaptiveFinalBlock, TiedOutput

COURSE_PROMPT = "The best perks of living on the east"


# --------------------------------------------------------------------------- configuration
@dataclass
class LMConfig:
    """Everything a run needs; attribute access like the course's EasyDict (`as_lm_config` converts
    one).

    The first block of fields is the course's, with the values of its `single_run_mlp_lm`, except lr
    (the course's 2e-6 leaves the model near its initialisation). The rest are ours, off unless set.
    """

    # the course's fields
    embed_dim: int = 128
    hidden_dim: int = 512
    num_blocks: int = 2
    dropout_p: float = 0.2
    local_window_size: int = 6
    batch_size: int = 4096
    lr: float = 1e-3
    decay: float = 1.0  # gamma of ExponentialLR, stepped every batch as the course does
    num_epochs: int = 5
    save_path: str = "mlp_lm.pth"
    # ours, opt-in: the model (nplm/output.py, nplm/context.py)
    output_layer: str = "full"  # "full" (the course's softmax) or "adaptive" (Grave et al. 2017)
    cutoffs: List[int] = field(default_factory=lambda: [1022, 9982])  # adaptive softmax clusters
    div_value: float = 4.0
    global_window: int = (
        0  # far words before the window whose mean embedding is added (Sun and Iyyer 2021)
    )
    global_chunks: int = 1  # ... cut into this many equal chunks, one mean each
    global_pool: str = "mean"  # "mean", or "kernel": a learned weight per far position
    global_dropout_p: float = 0.0  # share of training examples whose far words are hidden
    tie_embeddings: bool = (
        False  # output word vectors are the input embeddings (Press and Wolf 2017)
    )
    embed_dropout_p: float = (
        0.0  # share of word types whose input embedding is dropped per batch (Gal 2016)
    )
    input_dropout_p: float = (
        0.0  # dropout on the concatenated context vectors, before the first linear
    )
    # ours, opt-in: the training (nplm/average.py, nplm/optim.py, nplm/kernels.py)
    ema_decay: float = 0.0  # > 0: score and save an exponential moving average of the weights
    optimizer: str = "adam"  # "adam" (the course's) or "adamw" (fused where torch has it)
    weight_decay: float = 0.0
    schedule: str = (
        "exponential"  # the course's ExponentialLR(decay), or "cosine"/"linear"/"constant" + warmup
    )
    warmup_steps: int = 0
    patience: Optional[int] = None  # stop after this many epochs without a better dev perplexity
    fast: bool = (
        False  # lm_kernels' training step and lm_data.WindowBatches instead of a DataLoader
    )
    device: str = "cpu"  # "auto" (CUDA, then MPS, then CPU), "cpu", "cuda", "cuda:N" or "mps"
    precision: str = "fp32"  # or "bf16": bfloat16 autocast for the forward passes
    eval_batch_size: Optional[int] = None  # None: batch_size
    # after training, lm/run.py scores the best model (the model never reads these;
    # lm_run.LMRunConfig has the rest)
    cache_size: int = 0  # > 0: with a continuous cache of this many tokens (lm/cache.py)
    dynamic_segment: int = (
        0  # > 0: with dynamic evaluation in segments of this many tokens (lm/dynamic.py)
    )
    # data and bookkeeping
    max_train_tokens: Optional[int] = None  # a prefix of the training stream (quick runs)
    max_dev_tokens: Optional[int] = None
    min_count: int = 1  # words seen fewer times in train map to <unk>
    seed: int = 42
    num_threads: Optional[int] = None  # torch threads while training (None: torch's choice)
    print_every: int = 100
    name: str = "course"

    # Where and how a run is watched, how its best model is scored: not what it trains (may change
    # on resuming).
    NOT_TRAINED = ("num_threads", "print_every", "device", "cache_size", "dynamic_segment")
    # Model parts and scoring modes added after runs were saved: a config without them ran without
    # them, even where its preset has them on now.
    ADDED_OFF = {
        "tie_embeddings": False,
        "embed_dropout_p": 0.0,
        "input_dropout_p": 0.0,
        "dynamic_segment": 0,
        "global_pool": "mean",
    }
    OPTIONAL = (
        "patience",
        "eval_batch_size",
        "max_train_tokens",
        "max_dev_tokens",
        "num_threads",
    )  # None: unset

    def __post_init__(self):
        self.cutoffs = list(self.cutoffs)
        self.validate()

    @property
    def eval_batch(self) -> int:
        """The batch size for scoring: eval_batch_size, else batch_size (the course's config has
        none)."""
        return self.eval_batch_size or self.batch_size

    def check(self, name: str, ok: bool, expected: str) -> None:
        """utils.ConfigError (a ValueError) "LMConfig.name must be expected, got value" unless
        `ok`."""
        if not ok:
            raise utils.ConfigError("LMConfig", name, expected, getattr(self, name))

    def validate(self) -> None:
        """ValueError naming the first field out of range; run on construction, before any data is
        read. The one place where these values are checked: main.py's flags set them and leave the
        ranges to it."""
        for name, low in (
            *(
                (n, 1)
                for n in (
                    "embed_dim",
                    "hidden_dim",
                    "local_window_size",
                    "batch_size",
                    "num_epochs",
                    "global_chunks",
                    "min_count",
                    "patience",
                    "eval_batch_size",
                    "max_train_tokens",
                    "max_dev_tokens",
                    "num_threads",
                )
            ),
            *(
                (n, 0)
                for n in (
                    "num_blocks",
                    "global_window",
                    "warmup_steps",
                    "cache_size",
                    "dynamic_segment",
                    "print_every",
                    "seed",
                )
            ),
        ):
            v, optional = getattr(self, name), name in self.OPTIONAL
            self.check(
                name,
                (optional and v is None)
                or (isinstance(v, int) and not isinstance(v, bool) and v >= low),
                f"a whole number >= {low}" + (" or None" if optional else ""),
            )
        for name in (
            "dropout_p",
            "global_dropout_p",
            "embed_dropout_p",
            "input_dropout_p",
            "ema_decay",
        ):
            self.check(name, 0.0 <= getattr(self, name) < 1.0, "in [0, 1)")
        for name in ("lr", "div_value"):
            self.check(
                name,
                math.isfinite(getattr(self, name)) and getattr(self, name) > 0,
                "finite and > 0",
            )
        self.check("decay", 0.0 < self.decay <= 1.0, "in (0, 1]")
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
        self.check("save_path", bool(str(self.save_path)), "a file path")

    @classmethod
    def presets(cls) -> dict:
        """'course' (the fields above), 'default' (`python main.py lm`: < 20 min on 2 cores), 'long'
        (wider, more epochs) and 'quick' (a small slice, seconds): the fields each sets."""
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
            weight_decay=0.1,  # 0.01 overfits after epoch 3 (docs/results.md, the ablation)
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
        return {
            "course": {},
            "default": ours,
            "long": {
                **ours,
                "hidden_dim": 1024,
                "dropout_p": 0.3,
                "global_window": 256,
                "global_chunks": 4,
                "ema_decay": 0.999,
                "lr": 2e-3,
                "num_epochs": 5,
                "weight_decay": 0.01,  # as it ran (reference/mlp_lm_long.json)
            },
            "quick": {
                **ours,
                "embed_dim": 64,
                "hidden_dim": 128,
                "batch_size": 256,
                "num_epochs": 2,
                "max_train_tokens": 100_000,
                "max_dev_tokens": 20_000,
                "warmup_steps": 20,
                "print_every": 100,
                "dropout_p": 0.1,
            },
        }

    @classmethod
    def preset(cls, name: str, **overrides) -> "LMConfig":
        """The config of preset `name` (see `presets`); `overrides` set fields by name."""
        presets = cls.presets()
        if name not in presets:
            raise ValueError(f"unknown LM config {name!r}; choose from {sorted(presets)}")
        return cls(**{**presets[name], "name": name, **overrides})

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, saved: dict, **overrides) -> "LMConfig":
        """The config a run saved (`to_dict`, in its JSON): fields added since come from its preset
        (off for the model parts of ADDED_OFF), fields since removed are dropped; `overrides` set
        fields by name."""
        known = {f.name for f in dataclasses.fields(cls)}
        fields = {**cls.ADDED_OFF, **{k: v for k, v in saved.items() if k in known}}
        name = fields.pop("name", "course")
        return cls.preset(name, **{**fields, **overrides})


def as_lm_config(config) -> LMConfig:
    """An LMConfig from any attribute-access config (the course's EasyDict, a namespace, an
    LMConfig): the fields it has, the course's values for the rest. Validated here, once."""
    if isinstance(config, LMConfig):
        return config
    values = {}
    for f in dataclasses.fields(LMConfig):
        try:
            values[f.name] = getattr(config, f.name)
        except (AttributeError, KeyError):
            pass
    return LMConfig(**values)


# --------------------------------------------------------------------------- model
class NPLMFirstBlock(ContextAdditions, nn.Module):
    """Embed the W context words and concatenate them (Bengio et al. 2003), then linear, tanh,
    LayerNorm, dropout: (B, W) ids -> (B, H). The keyword arguments are ours, off by default
    (nplm/context.py): a global context of the G words before the window (inputs (B, G+W)),
    word-type and input dropout."""

    def __init__(
        self,
        vocab_size,
        embed_dim,
        local_window_size,
        hidden_dim,
        dropout_p,
        global_window=0,
        global_chunks=1,
        global_dropout_p=0.0,
        embed_dropout_p=0.0,
        input_dropout_p=0.0,
        global_pool="mean",
    ):
        super().__init__()
        self.local_window_size = local_window_size
        self.embed_dim = embed_dim
        self.embeddings = nn.Embedding(vocab_size, embed_dim)
        self.init_additions(
            local_window_size,
            global_window,
            global_chunks,
            global_dropout_p,
            embed_dropout_p,
            input_dropout_p,
            global_pool,
        )  # ours: sets context_size and global_chunks (0 without a global context)
        self.linear = nn.Linear((local_window_size + self.global_chunks) * embed_dim, hidden_dim)
        self.layer_norm = nn.LayerNorm(hidden_dim)
        self.dropout = nn.Dropout(dropout_p)

    def forward(self, inputs):
        if not self.global_window:
            embeds = self.embeddings(inputs)  # (B, W, E), or (W, E) for one window
            embeds = self.drop_word_types(
                inputs, embeds
            )  # ours: the same tensor unless embed_dropout_p
            embeds = embeds.reshape(-1, self.local_window_size * self.embed_dim)  # (B, W*E)
        else:  # ours: (B, G+W) ids in, the far words' chunk means added to the concatenation
            embeds = self.with_global_context(inputs)  # (B, (W+C)*E)
        embeds = self.drop_inputs(embeds)  # ours: the same tensor unless input_dropout_p
        hidden = torch.tanh(self.linear(embeds))  # (B, H)
        return self.dropout(self.layer_norm(hidden))  # (B, H)


class NPLMBlock(nn.Module):
    """linear, tanh, residual add, LayerNorm, dropout: (B, H) -> (B, H)."""

    def __init__(self, hidden_dim, dropout_p):
        super().__init__()
        self.hidden_dim = hidden_dim
        self.linear = nn.Linear(hidden_dim, hidden_dim)
        self.layer_norm = nn.LayerNorm(hidden_dim)
        self.dropout = nn.Dropout(dropout_p)

    def forward(self, inputs):
        hidden = torch.tanh(self.linear(inputs))  # (B, H)
        return self.dropout(self.layer_norm(inputs + hidden))  # (B, H)


class NPLMFinalBlock(nn.Module):
    """The course's output layer: a linear map to the vocabulary without bias, then log-softmax: (B,
    H) -> (B, V). Ours, with `tie_to` (the input `nn.Embedding`): the output word vectors are the
    input embeddings, reached through a projection (H -> E) when H differs from E
    (lm_output.TiedOutput)."""

    def __init__(self, vocab_size, hidden_dim, tie_to=None):
        super().__init__()
        if tie_to is None:
            self.linear = nn.Linear(hidden_dim, vocab_size, bias=False)
        else:
            self.tied = TiedOutput(hidden_dim, tie_to, 0, vocab_size)

    def logits(self, inputs):
        return self.linear(inputs) if hasattr(self, "linear") else self.tied(inputs)  # (B, V)

    def forward(self, inputs):
        return F.log_softmax(self.logits(inputs), dim=-1)  # (B, V)

    def nll(self, inputs, targets, reduction="mean"):
        """-log p(targets) for hidden states (B, H) and targets (B,), without a (B, V) log-softmax
        tensor."""
        nll = softmax_nll(self.logits(inputs), targets)  # (B,)
        return nll.mean() if reduction == "mean" else nll.sum() if reduction == "sum" else nll

    def target_log_prob(self, inputs, targets):
        return self(inputs).gather(1, targets[:, None]).squeeze(1)  # (B,)


class NPLM(nn.Module):
    """The first block, `num_blocks` residual blocks each followed by ReLU, and the output layer:
    (B, W) ids -> (B, V) log-probabilities of the next word (one window (W,) gives (1, V)).

    The keyword arguments are ours (see `LMConfig`); their defaults give the course's model.
    """

    def __init__(
        self,
        vocab_size,
        embed_dim,
        local_window_size,
        hidden_dim,
        num_blocks,
        dropout_p,
        *,
        output_layer="full",
        cutoffs=(1022, 9982),
        div_value=4.0,
        global_window=0,
        global_chunks=1,
        global_dropout_p=0.0,
        tie_embeddings=False,
        embed_dropout_p=0.0,
        input_dropout_p=0.0,
        global_pool="mean",
    ):
        super().__init__()
        self.first_layer = NPLMFirstBlock(
            vocab_size,
            embed_dim,
            local_window_size,
            hidden_dim,
            dropout_p,
            global_window,
            global_chunks,
            global_dropout_p,
            embed_dropout_p,
            input_dropout_p,
            global_pool,
        )
        self.intermediate_layers = nn.ModuleList(
            [NPLMBlock(hidden_dim, dropout_p) for _ in range(num_blocks)]
        )
        tie_to = self.first_layer.embeddings if tie_embeddings else None  # ours
        if (
            tie_to is not None
        ):  # N(0, 1) rows would make the tied logits' scale sqrt(E) at the start
            nn.init.normal_(tie_to.weight, std=embed_dim**-0.5)
        if output_layer == "full":
            self.final_layer = NPLMFinalBlock(vocab_size, hidden_dim, tie_to)
        elif output_layer == "adaptive":  # ours (nplm/output.py)
            self.final_layer = NPLMAdaptiveFinalBlock(
                vocab_size, hidden_dim, cutoffs, div_value, tie_to
            )
        else:
            raise ValueError(f"output_layer must be 'full' or 'adaptive', not {output_layer!r}")
        self.output_layer = output_layer
        self.context_size = self.first_layer.context_size  # token ids read per prediction

    def features(self, inputs):
        hidden = self.first_layer(inputs)  # (B, H)
        for block in self.intermediate_layers:
            hidden = F.relu(block(hidden))  # (B, H)
        return hidden

    def forward(self, inputs, targets=None, reduction="mean"):
        """(B, V) log-probabilities, as the course's; with `targets`, their NLL instead (`nll`), so
        that a DistributedDataParallel wrapper sees the training loss computed through its own
        forward."""
        if targets is not None:
            return self.nll(inputs, targets, reduction)
        return self.final_layer(self.features(inputs))  # (B, V)

    def nll(self, inputs, targets, reduction="mean"):
        """Negative log-likelihood of the next words `targets` (B,) after `inputs` (B, W): the
        training loss without a (B, V) tensor of log-probabilities where the output layer can avoid
        one."""
        return self.final_layer.nll(self.features(inputs), targets, reduction=reduction)


# The model's hyper-parameters, read off NPLM's signature: a config and a checkpoint carry these
# fields.
MODEL_FIELDS = tuple(inspect.signature(NPLM).parameters)[1:]


def model_fields(config) -> dict:
    return {name: getattr(config, name) for name in MODEL_FIELDS}


def build_model(config, vocab_size: int, device="cpu") -> NPLM:
    """The NPLM of `config`, built on the CPU (the same initial weights for every device) and moved
    to `device`. config.fast swaps in lm_kernels' cheaper dropout masks on a CPU; a GPU's own
    dropout kernel is fused."""
    model = NPLM(vocab_size, **model_fields(config))
    if config.fast and torch.device(device).type == "cpu":
        use_bit_dropout(model)
    return model.to(device)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def test_model_forward(model, sample, local_window_size, tokenizer):
    """The course's check on one batch: one row of log-probabilities over the vocabulary per target.
    Runs in eval mode without gradients (so it draws no dropout mask) and restores the model's
    mode."""
    inp, target = sample
    with utils.evaluating(model):
        log_probs = model(inp)  # (B, V)
    assert inp.shape[-1] == getattr(model, "context_size", local_window_size), (
        "windows of the wrong width"
    )
    assert log_probs.shape[0] == target.shape[0], "one output row per target"
    assert log_probs.shape[1] == tokenizer.vocab_size, "a distribution over the whole vocabulary"


# --------------------------------------------------------------------------- training
def train_step(
    model,
    criterion,
    optimizer,
    scheduler,
    inp,
    target,
    *,
    average=None,
    autocast=contextlib.nullcontext(),
    world=1,
):
    """The course's step on one batch: loss, gradient, the optimiser's step, the schedule's step;
    returns (loss, the batch's summed loss in float64). Ours: the weight average's update, bf16
    `autocast`, and under torchrun (`world` > 1) this process's share of the global batch's mean
    (nplm/distributed.py)."""
    with autocast:
        loss, batch_sum = distributed.training_loss(
            _batch_loss, model, criterion, inp, target, world
        )
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    if scheduler is not None:
        scheduler.step()
    if average is not None:
        average.update()
    return loss, batch_sum


def train(
    model,
    train_dataloader,
    dev_dataloader,
    criterion,
    optimizer,
    scheduler,
    num_epochs,
    save_path,
    print_every=100,
    options: Optional[TrainOptions] = None,
):
    """Train for num_epochs, stepping the scheduler every batch as the course does; after each epoch
    score the dev set and save the weights with the best dev perplexity so far at `save_path` (a
    state_dict, atomically). Returns the history, one value per epoch: it unpacks as the course's
    (train losses, train perplexities, dev losses, dev perplexities).

    Loaders yield (contexts (B, W), targets (B,)). A NaN or infinite loss raises
    utils.TrainingDiverged. Ours, off unless `options` (nplm.bookkeeping.TrainOptions) turns them
    on: early stopping, a weight average, the JSON beside the weights, the training state after
    every epoch and resuming from it, bf16 autocast. A DistributedDataParallel `model` with loaders
    split by rank trains on the global batch."""
    return train_run(
        model,
        train_dataloader,
        dev_dataloader,
        criterion,
        optimizer,
        scheduler,
        num_epochs,
        save_path,
        print_every,
        options or TrainOptions(),
    ).history


def train_run(
    model,
    train_dataloader,
    dev_dataloader,
    criterion,
    optimizer,
    scheduler,
    num_epochs,
    save_path,
    print_every,
    options: TrainOptions,
) -> TrainingRun:
    """`train`'s loop; returns the whole run (its history, best weights and epoch, training
    time)."""
    core = getattr(model, "module", model)  # the NPLM itself, under DistributedDataParallel or not
    device = next(core.parameters()).device
    autocast = torch.autocast(
        device.type, dtype=torch.bfloat16, enabled=options.precision == "bf16"
    )
    average = WeightAverage(core, options.ema_decay) if options.ema_decay else None  # ours
    log = options.log
    # ours: the history, the best weights, early stopping, the training state
    run = TrainingRun(core, optimizer, scheduler, average, train_dataloader, save_path, options)
    if options.resume is not None:
        run.load_state_dict(options.resume)
    for epoch in range(run.first_epoch, 0 if run.stopped else num_epochs):
        model.train()
        log(f"{'-' * 10} Epoch {epoch}: Training {'-' * 10}")
        run.start_epoch(epoch)
        for idx, (inp, target) in enumerate(
            utils.progress(train_dataloader, desc=f"epoch {epoch}")
        ):
            inp, target = inp.to(device, non_blocking=True), target.to(device, non_blocking=True)
            loss, batch_sum = train_step(
                model,
                criterion,
                optimizer,
                scheduler,
                inp,
                target,
                average=average,
                autocast=autocast,
                world=run.world,
            )
            run.add_step(
                idx, loss, batch_sum, target.numel(), print_every
            )  # ours: sums, checks, log lines
        train_loss = run.epoch_mean()
        log(f"{'-' * 10} Epoch {epoch}: Evaluation on Dev Set {'-' * 10}")
        with autocast:
            dev_loss, dev_ppl, best_state = run.score_dev(
                lambda: evaluate(core, dev_dataloader, criterion)
            )
        if run.end_epoch(train_loss, dev_loss, dev_ppl, best_state):
            break
    return run


def _batch_loss(model, criterion, inp, target, reduction="mean"):
    """The batch's NLL: criterion(log_probs, target) as the course computes it; the model's own loss
    (ours) for an adaptive softmax or without a criterion."""
    core = getattr(model, "module", model)  # under DistributedDataParallel
    if criterion is None or isinstance(getattr(core, "final_layer", None), NPLMAdaptiveFinalBlock):
        return model(inp, target, reduction=reduction)
    loss = criterion(model(inp), target)
    return loss * target.numel() if reduction == "sum" else loss


def evaluate(model, eval_dataloader, criterion):
    """(mean loss per target token, perplexity = exp(mean loss)), batches weighted by their size,
    without gradients in eval mode (then the model's mode back). Under torchrun, the processes' sums
    are added."""
    device = next(model.parameters()).device
    total = torch.zeros((), dtype=torch.float64, device=device)
    count = 0
    with utils.evaluating(model):
        for inp, target in eval_dataloader:
            inp, target = inp.to(device, non_blocking=True), target.to(device, non_blocking=True)
            total += _batch_loss(model, criterion, inp, target, reduction="sum").double()
            count += target.numel()
    sums = torch.stack([total, torch.tensor(float(count), dtype=torch.float64, device=device)])
    distributed.sum_over_processes(sums, getattr(eval_dataloader, "world", 1))
    if sums[1].item() == 0:
        raise ValueError("evaluate: the evaluation data is empty")
    avg_loss = sums[0].item() / sums[1].item()
    return avg_loss, math.exp(min(avg_loss, 709.0))


# --------------------------------------------------------------------------- generation
def top_p_filter(log_probs: torch.Tensor, top_p: float) -> torch.Tensor:
    """Nucleus filtering (Holtzman et al. 2020): keep the smallest set of most likely tokens whose
    probability reaches top_p, set the rest to -inf: (B, V) or (V,) -> the same shape. The most
    likely token is always kept; top_p >= 1 keeps everything."""
    if not 0.0 <= top_p <= 1.0:
        raise ValueError(f"top_p must be in [0, 1], got {top_p}")
    if top_p >= 1.0:
        return log_probs
    sorted_lp, order = torch.sort(log_probs, dim=-1, descending=True)  # (B, V)
    probs = F.softmax(sorted_lp, dim=-1)  # (B, V)
    mass_before = (
        torch.cumsum(probs, dim=-1) - probs
    )  # (B, V): probability of the strictly more likely tokens
    drop_sorted = mass_before >= top_p  # (B, V)
    drop_sorted[..., 0] = False
    drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)  # back to vocabulary order
    return log_probs.masked_fill(drop, float("-inf"))


def generate_text(
    prompt, model, tokenizer, local_window_size, top_p, max_len=30, generator=None, verbose=True
):
    """Continue `prompt` by max_len tokens; return the text (also printed, as the course does).

    Greedy when top_p is None or 0, else nucleus sampling (seedable with `generator`). Prompts
    shorter than the window are padded with `<eos>`, as training pads the first windows of a split.
    """
    if top_p is not None and (isinstance(top_p, bool) or not 0.0 <= float(top_p) <= 1.0):
        raise ValueError(f"top_p must be None or in [0, 1], got {top_p!r}")
    if max_len < 0:
        raise ValueError(f"max_len must be >= 0, got {max_len}")
    ids = tokenizer.convert_tokens_to_ids(tokenizer.tokenize(prompt))
    pad_id = pad_id_of(tokenizer)
    W = int(local_window_size)
    G = max(
        0, getattr(model, "context_size", W) - W
    )  # far words of a global context: none before the prompt
    context = [pad_id] * W + list(ids)
    device = next(iter(model.parameters()), torch.empty(0)).device
    with utils.evaluating(model):
        for _ in range(max_len):
            far = ([-1] * G + context[W:-W])[-G:] if G else []  # (G,): -1 is "no word"
            window = torch.tensor(far + context[-W:], dtype=torch.long, device=device)  # (G+W,)
            log_probs = model(window)  # (1, V)
            if top_p:
                filtered = top_p_filter(
                    log_probs.float().cpu(), float(top_p)
                )  # (1, V); sampled on the CPU,
                pred = torch.multinomial(
                    filtered.softmax(-1), 1, generator=generator
                ).item()  # its generator's
            else:
                pred = int(torch.argmax(log_probs).item())
            context.append(pred)
    generation = tokenizer.convert_tokens_to_string(tokenizer.convert_ids_to_tokens(context[W:]))
    if verbose:
        print(f"Generated text: {generation}")
    return generation


def sample_prompt(
    model, tokenizer, prompt=COURSE_PROMPT, top_ps=(None, 0.0, 0.3, 1.0), max_len=30, seed=42
):
    """{"greedy" or "top_p=P": text} for each top_p, as the course's sample_from_mlp_lm prints them;
    sampling draws from one generator seeded with `seed`."""
    gen = torch.Generator().manual_seed(seed)
    samples = {}
    for p in top_ps:
        label = "greedy" if p is None else f"top_p={p}"
        print(f"{'-' * 10} {label} {'-' * 10}")
        samples[label] = generate_text(
            prompt,
            model,
            tokenizer,
            model.first_layer.local_window_size,
            top_p=p,
            max_len=max_len,
            generator=gen,
        )
    return samples


def visualize_epochs(epoch_train_stats, epoch_dev_stats, stat_name, save_fig_path, title=None):
    """Train and dev curves of one statistic per epoch (utils.plot_curves)."""
    return utils.plot_curves(
        {"train": list(epoch_train_stats), "dev": list(epoch_dev_stats)},
        ylabel=stat_name,
        save_fig_path=save_fig_path,
        title=title or f"MLP language model: {stat_name}",
    )


# --------------------------------------------------------------------------- the course's entry
# points
def fit_mlp_lm(config, train_data, dev_data, log=print, state_path=None, resume=False) -> TrainedLM:
    """Build the vocabulary, batches, model and optimiser of `config`; train; return the best model
    and every number. The course's pipeline unless config.fast: a DataLoader over windows, shuffled
    by torch's seed. `state_path` keeps the training state after every epoch; `resume` continues
    from it (the same config)."""
    config = as_lm_config(config)
    state = load_training_state(state_path) if resume else None
    if state is not None:
        check_resumable(config, state["meta"]["config"], state_path)
    device, rank, world = distributed.this_process(utils.get_device(config.device), config.fast)
    log = log if rank == 0 else (lambda *args, **kwargs: None)
    gen = utils.set_seed(config.seed)
    t_start = time.perf_counter()
    train_texts = texts_of(train_data)
    tokenizer = WordTokenizer.from_texts(train_texts, min_count=config.min_count)
    log(f"{'-' * 10} Preprocess Data {'-' * 10}")
    train_stream = encode_stream(train_texts, tokenizer, config.max_train_tokens)  # (T,)
    dev_stream = encode_stream(dev_data, tokenizer, config.max_dev_tokens)  # (T_dev,)
    log(
        f"vocabulary {tokenizer.vocab_size:,} words (train split only); train "
        f"{train_stream.numel():,} tokens, "
        f"dev {dev_stream.numel():,} targets"
    )
    model = build_model(config, tokenizer.vocab_size, device)
    if world > 1:  # the same initial weights everywhere, then each process its own dropout masks
        torch.manual_seed(config.seed + rank)
    W, pad = model.context_size, tokenizer.pad_token_id
    if config.fast:  # ours: a global batch of batch_size, split between the processes
        train_loader = WindowBatches(
            train_stream,
            W,
            pad,
            config.batch_size,
            shuffle=True,
            generator=gen,
            device=device,
            rank=rank,
            world=world,
        )
        dev_loader = WindowBatches(
            dev_stream, W, pad, config.eval_batch, device=device, rank=rank, world=world
        )
        sample = next(
            iter(WindowBatches(train_stream, W, pad, config.batch_size, device=device))
        )  # no randomness
    else:
        train_loader = DataLoader(
            TensorDataset(*windows_from_stream(train_stream, W, pad)),
            config.batch_size,
            shuffle=True,
        )
        dev_loader = DataLoader(
            TensorDataset(*windows_from_stream(dev_stream, W, pad)), config.eval_batch
        )
        sample = tuple(t.to(device) for t in next(iter(train_loader)))
    log(
        f"{'-' * 10} Create Model: {count_parameters(model):,} parameters, "
        f"{model.output_layer} softmax {'-' * 10}"
    )
    test_model_forward(model, sample, config.local_window_size, tokenizer)
    optimizer, scheduler = make_optimizer(model, config, config.num_epochs * len(train_loader))
    meta = {
        "tokenizer": tokenizer.to_dict(),
        "model": model_fields(config),
        "config": config.to_dict(),
    }
    net, threads = distributed.wrap(
        model, device, config.output_layer == "adaptive", config.num_threads, world
    )
    options = TrainOptions(
        patience=config.patience,
        ema_decay=config.ema_decay,
        checkpoint_meta=meta,
        log=log,
        state_path=state_path,
        resume=state,
        precision=config.precision,
    )
    with utils.torch_threads(threads):
        run = train_run(
            net,
            train_loader,
            dev_loader,
            nn.NLLLoss(),
            optimizer,
            scheduler,
            config.num_epochs,
            config.save_path,
            config.print_every,
            options,
        )
    model.load_state_dict(run.best_state)
    model.eval()
    report = fit_report(run, model, tokenizer, config, train_stream, dev_stream, t_start)
    return TrainedLM(model, tokenizer, config, report)


def load_checkpoint(path, config=None) -> tuple[NPLM, WordTokenizer, dict]:
    """(model in eval mode, tokenizer, meta) for the checkpoint at `path` (nplm/checkpoint.py's
    format): the model of `config` when given (as the course's sample_from_mlp_lm builds it), else
    the one saved beside the weights."""
    return load_model(path, NPLM, None if config is None else model_fields(config))


def run_mlp_lm(config, train_data, dev_data):
    """Train the model of `config` on train_data, keep the best at config.save_path; returns (train
    losses, train perplexities, dev losses, dev perplexities), one per epoch, as the course does."""
    h = fit_mlp_lm(config, train_data, dev_data).report["history"]
    return h["train_loss"], h["train_ppl"], h["dev_loss"], h["dev_ppl"]


def sample_from_mlp_lm(
    config, dev_data, prompt=COURSE_PROMPT, top_ps=(None, 0.0, 0.3, 1.0), max_len=30
):
    """Rebuild the model of `config`, load the weights at config.save_path (the vocabulary from the
    JSON beside them), report dev perplexity when dev_data is given, and print the prompt's
    continuations: greedy, p = 0.0 (the same as greedy), 0.3 and 1.0. Returns the numbers and the
    samples."""
    config = as_lm_config(config)
    print(f"{'-' * 10} Load Model Weights {'-' * 10}")
    model, tokenizer, meta = load_checkpoint(config.save_path, config)
    device = utils.get_device(config.device)
    model.to(device)
    out = {"checkpoint": str(config.save_path), "checkpoint_epoch": meta.get("epoch")}
    if dev_data is not None:
        print(f"{'-' * 10} Evaluate on the Dev Set {'-' * 10}")
        stream = encode_stream(dev_data, tokenizer)
        batches = WindowBatches(
            stream, model.context_size, tokenizer.pad_token_id, config.eval_batch, device=device
        )
        out["dev_loss"], out["dev_ppl"] = evaluate(model, batches, nn.NLLLoss())
        out["dev_targets"] = stream.numel()
        print(
            f"Dev Perplexity: {out['dev_ppl']:.2f}; Dev Loss: {out['dev_loss']:.4f} "
            f"({stream.numel():,} targets)"
        )
    print(f"{'-' * 10} Sample From the Model {'-' * 10}")
    out["prompt"] = prompt
    out["samples"] = sample_prompt(model, tokenizer, prompt, top_ps, max_len, seed=config.seed)
    return out
