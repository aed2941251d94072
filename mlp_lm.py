"""A fixed-window neural language model, as homework 3 of CS 601.471/671 builds it, on WikiText-2.

Bengio, Ducharme, Vincent and Jauvin. 2003. *A Neural Probabilistic Language Model.* JMLR 3:1137-1155.

The model reads the W words before a position, looks up an embedding for each, concatenates them, and maps
the result through a tanh layer and residual blocks to a distribution over the next word. The file reads top
to bottom: the config, the three blocks and the `NPLM` that stacks them, `train` and `evaluate`, generation,
and the course's two entry points, `run_mlp_lm` and `sample_from_mlp_lm`.

Given a course config (an EasyDict with the course's fields), these functions build and train the course's
model the course's way: a full softmax, `nn.Dropout`, a DataLoader over a TensorDataset of windows, Adam and
ExponentialLR(decay); `train` leaves a plain state_dict at `save_path`. Everything we add is an opt-in config
field, off unless set, and `python main.py lm` (LMConfig.preset("default")) turns on the ones that help:
- `output_layer="adaptive"`: an adaptive softmax (Grave, Joulin, Cisse, Grangier and Jegou 2017, *Efficient
  softmax approximation for GPUs*), far cheaper per token than the full softmax (README: the benchmark);
- `global_window`: the mean embedding of the words before the window joins the concatenation (Sun and Iyyer
  2021, *Revisiting Simple Neural Probabilistic Language Models*);
- `tie_embeddings`: the output word vectors are the input embeddings (Press and Wolf 2017; Inan et al. 2017),
  the adaptive softmax's through one projection per cluster (Baevski and Auli 2019);
- `embed_dropout_p`, `input_dropout_p`: dropout of whole word types from a batch's lookups (Gal and Ghahramani
  2016) and of the concatenated context vectors;
- `ema_decay`: dev scores and checkpoints use an exponential moving average of the weights;
- `optimizer="adamw"`, `schedule="cosine"`, `warmup_steps`, `patience`: the optimiser and early stopping;
- `fast`: the training step's kernels of lm_kernels.py and batches cut from one token stream (lm_data.py);
- `cache_size`: after training, a continuous cache rescores the best model (lm_cache.py; main.py does this);
- `dynamic_segment`: after training, dynamic evaluation rescores it too (Krause et al. 2018, lm_dynamic.py);
- `device`, `precision`: a GPU or MPS, bfloat16 autocast; under torchrun, `fit_mlp_lm` trains with
  DistributedDataParallel on a global batch split between the processes.
The word tokenizer and the data live in lm_data.py, the fast kernels in lm_kernels.py, the cache in
lm_cache.py, dynamic evaluation in lm_dynamic.py, the checkpoint's JSON and the training state in
lm_checkpoint.py; every course name still imports from here.
"""
from __future__ import annotations

import contextlib
import dataclasses
import inspect
import math
import os
import time
from dataclasses import dataclass, field
from typing import List, Optional

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

import utils
from lm_cache import CACHE_LAMBDAS, CACHE_THETAS
from lm_dynamic import DYNAMIC_DECAYS, DYNAMIC_LRS, DYNAMIC_SEGMENT, DYNAMIC_TUNE_TOKENS
from lm_data import (TEST_FILE, TRAIN_FILE, VALID_FILE, WIKITEXT_DIR, WindowBatches, WordTokenizer,  # noqa: F401
                     encode_stream, load_data_mlp_lm, preprocess_data, texts_of, windows_from_stream)
from lm_checkpoint import (CheckpointError, load_checkpoint_meta, load_training_state, meta_path,  # noqa: F401
                           restore_training_state, save_checkpoint, save_training_state)
from lm_kernels import (BitDropout, adaptive_nll, make_adamw, softmax_nll, train_flops_per_token,  # noqa: F401
                        use_bit_dropout)

COURSE_PROMPT = "The best perks of living on the east"
SCHEDULES = ("exponential", "cosine", "linear", "constant")  # learning-rate schedules, see make_optimizer


# --------------------------------------------------------------------------- configuration
@dataclass
class LMConfig:
    """Everything a run needs; attribute access like the course's EasyDict (`as_lm_config` converts one).

    The first block of fields is the course's, with the values of its `single_run_mlp_lm`, except lr (the
    course's 2e-6 leaves the model near its initialisation). The rest are ours, off unless set.
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
    # ours, opt-in
    output_layer: str = "full"  # "full" (the course's softmax) or "adaptive" (Grave et al. 2017)
    cutoffs: List[int] = field(default_factory=lambda: [1022, 9982])  # adaptive softmax clusters
    div_value: float = 4.0
    global_window: int = 0  # far words before the window whose mean embedding is added (Sun and Iyyer 2021)
    global_chunks: int = 1  # ... cut into this many equal chunks, one mean each
    global_dropout_p: float = 0.0  # share of training examples whose far words are hidden
    tie_embeddings: bool = False  # output word vectors are the input embeddings (Press and Wolf 2017)
    embed_dropout_p: float = 0.0  # share of word types whose input embedding is dropped per batch (Gal 2016)
    input_dropout_p: float = 0.0  # dropout on the concatenated context vectors, before the first linear
    ema_decay: float = 0.0  # > 0: score and save an exponential moving average of the weights
    optimizer: str = "adam"  # "adam" (the course's) or "adamw" (fused where torch has it)
    weight_decay: float = 0.0
    schedule: str = "exponential"  # the course's ExponentialLR(decay), or "cosine"/"linear"/"constant" + warmup
    warmup_steps: int = 0
    patience: Optional[int] = None  # stop after this many epochs without a better dev perplexity
    fast: bool = False  # lm_kernels' training step and lm_data.WindowBatches instead of a DataLoader
    device: str = "cpu"  # "auto" (CUDA, then MPS, then CPU), "cpu", "cuda", "cuda:N" or "mps"
    precision: str = "fp32"  # or "bf16": bfloat16 autocast for the forward passes
    eval_batch_size: Optional[int] = None  # None: batch_size
    cache_size: int = 0  # > 0: main.py also scores the best model with a continuous cache of this many tokens
    cache_thetas: List[float] = field(default_factory=lambda: list(CACHE_THETAS))
    cache_lambdas: List[float] = field(default_factory=lambda: list(CACHE_LAMBDAS))
    dynamic_segment: int = 0  # > 0: main.py also scores the best model with dynamic evaluation (lm_dynamic.py)
    dynamic_lrs: List[float] = field(default_factory=lambda: list(DYNAMIC_LRS))
    dynamic_decays: List[float] = field(default_factory=lambda: list(DYNAMIC_DECAYS))
    dynamic_tune_tokens: int = DYNAMIC_TUNE_TOKENS  # the dev prefix its grid is searched on
    # data and bookkeeping
    max_train_tokens: Optional[int] = None  # a prefix of the training stream (quick runs)
    max_dev_tokens: Optional[int] = None
    min_count: int = 1  # words seen fewer times in train map to <unk>
    seed: int = 42
    num_threads: Optional[int] = None  # torch threads while training (None: torch's choice)
    print_every: int = 100
    name: str = "course"

    def __post_init__(self):
        self.cutoffs, self.cache_thetas, self.cache_lambdas, self.dynamic_lrs, self.dynamic_decays = (
            list(self.cutoffs), list(self.cache_thetas), list(self.cache_lambdas), list(self.dynamic_lrs),
            list(self.dynamic_decays))
        self.validate()

    def validate(self) -> None:
        """ValueError naming the first field out of range; run on construction, before any data is read."""
        def check(name, ok, expected):
            if not ok:
                raise ValueError(f"LMConfig.{name} must be {expected}, got {getattr(self, name)!r}")

        def whole(name, low, optional=False):
            v = getattr(self, name)
            check(name, (optional and v is None) or (isinstance(v, int) and not isinstance(v, bool) and v >= low),
                  f"a whole number >= {low}" + (" or None" if optional else ""))

        for name in ("embed_dim", "hidden_dim", "local_window_size", "batch_size", "num_epochs", "global_chunks",
                     "min_count"):
            whole(name, 1)
        whole("dynamic_tune_tokens", 1)
        for name in ("num_blocks", "global_window", "warmup_steps", "cache_size", "dynamic_segment", "print_every",
                     "seed"):
            whole(name, 0)
        for name in ("patience", "eval_batch_size", "max_train_tokens", "max_dev_tokens", "num_threads"):
            whole(name, 1, optional=True)
        for name in ("dropout_p", "global_dropout_p", "embed_dropout_p", "input_dropout_p", "ema_decay"):
            check(name, 0.0 <= getattr(self, name) < 1.0, "in [0, 1)")
        for name in ("lr", "div_value"):
            check(name, math.isfinite(getattr(self, name)) and getattr(self, name) > 0, "finite and > 0")
        check("decay", 0.0 < self.decay <= 1.0, "in (0, 1]")
        check("weight_decay", math.isfinite(self.weight_decay) and self.weight_decay >= 0, "finite and >= 0")
        check("output_layer", self.output_layer in ("full", "adaptive"), "'full' or 'adaptive'")
        check("tie_embeddings", isinstance(self.tie_embeddings, bool), "True or False")
        check("optimizer", self.optimizer in ("adam", "adamw"), "'adam' or 'adamw'")
        check("schedule", self.schedule in SCHEDULES, f"one of {sorted(SCHEDULES)}")
        check("precision", self.precision in ("fp32", "bf16"), "'fp32' or 'bf16'")
        check("device", isinstance(self.device, str) and bool(self.device), "a device name such as 'auto' or 'cpu'")
        check("cutoffs", all(isinstance(c, int) and c > 0 for c in self.cutoffs) and self.cutoffs == sorted(
            set(self.cutoffs)), "increasing whole numbers > 0")
        check("global_chunks", not self.global_window or self.global_window % self.global_chunks == 0,
              f"a divisor of global_window ({self.global_window})")
        check("cache_thetas", len(self.cache_thetas) > 0 and all(math.isfinite(t) and t >= 0
                                                                 for t in self.cache_thetas), "finite and >= 0")
        check("cache_lambdas", len(self.cache_lambdas) > 0 and all(0 <= x < 1 for x in self.cache_lambdas),
              "in [0, 1)")
        check("dynamic_lrs", len(self.dynamic_lrs) > 0 and all(math.isfinite(x) and x > 0 for x in self.dynamic_lrs),
              "finite and > 0")
        check("dynamic_decays", len(self.dynamic_decays) > 0 and all(0 <= x < 1 for x in self.dynamic_decays),
              "in [0, 1)")
        check("save_path", bool(str(self.save_path)), "a file path")

    @classmethod
    def preset(cls, name: str, **overrides) -> "LMConfig":
        """'course' (the fields above), 'default' (`python main.py lm`: < 20 min on 2 cores), 'long' (wider,
        more epochs) or 'quick' (a small slice, seconds). `overrides` set fields by name."""
        ours = dict(local_window_size=8, num_blocks=1, batch_size=2048, eval_batch_size=4096, lr=3e-3,
                    num_epochs=4, output_layer="adaptive", global_window=64, global_dropout_p=0.1,
                    ema_decay=0.998, optimizer="adamw", weight_decay=0.01, schedule="cosine", warmup_steps=100,
                    patience=2, fast=True, device="auto", cache_size=2000, num_threads=2, print_every=200,
                    save_path="checkpoints/mlp_lm.pt", tie_embeddings=True, dynamic_segment=DYNAMIC_SEGMENT)
        presets = {
            "course": {},
            "default": ours,
            "long": {**ours, "hidden_dim": 1024, "dropout_p": 0.3, "global_window": 256, "global_chunks": 4,
                     "ema_decay": 0.999, "lr": 2e-3, "num_epochs": 5},
            "quick": {**ours, "embed_dim": 64, "hidden_dim": 128, "batch_size": 256, "num_epochs": 2,
                      "max_train_tokens": 100_000, "max_dev_tokens": 20_000, "warmup_steps": 20,
                      "print_every": 100, "dropout_p": 0.1, "dynamic_lrs": [0.1], "dynamic_decays": [0.002],
                      "dynamic_tune_tokens": 5_000},
        }
        if name not in presets:
            raise ValueError(f"unknown LM config {name!r}; choose from {sorted(presets)}")
        return cls(**{**presets[name], "name": name, **overrides})

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    # Model parts and scoring modes added after runs were saved: a config without them ran without them, even
    # where its preset has them on now.
    ADDED_OFF = {"tie_embeddings": False, "embed_dropout_p": 0.0, "input_dropout_p": 0.0, "dynamic_segment": 0}

    @classmethod
    def from_dict(cls, saved: dict, **overrides) -> "LMConfig":
        """The config a run saved (`to_dict`, in its JSON): fields added since come from its preset (off for the
        model parts of ADDED_OFF), fields since removed are dropped; `overrides` set fields by name."""
        known = {f.name for f in dataclasses.fields(cls)}
        fields = {**cls.ADDED_OFF, **{k: v for k, v in saved.items() if k in known}}
        name = fields.pop("name", "course")
        return cls.preset(name, **{**fields, **overrides})


def as_lm_config(config) -> LMConfig:
    """An LMConfig from any attribute-access config (the course's EasyDict, a namespace, an LMConfig):
    the fields it has, the course's values for the rest. Validated here, once."""
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
class NPLMFirstBlock(nn.Module):
    """Embed the W context words and concatenate them (Bengio et al. 2003), then linear, tanh, LayerNorm,
    dropout: (B, W) ids -> (B, H).

    Ours, with `global_window` G > 0: the block also reads the G words before the window, inputs (B, G+W) with
    the far words first, and adds the mean embedding of each of `global_chunks` equal parts of them to the
    concatenation (Sun and Iyyer 2021). A far id of -1 means "no word" (before a generation prompt) and is
    left out of the mean; for a `global_dropout_p` share of training examples every far word is hidden, so
    the model also learns to do without them. Two more regularisers, off by default: `embed_dropout_p` drops
    whole word types from the lookups of a training batch (Gal and Ghahramani 2016, as AWD-LSTM does: a dropped
    word is unknown wherever it occurs in the batch), and `input_dropout_p` is dropout on the concatenation.
    """

    def __init__(self, vocab_size, embed_dim, local_window_size, hidden_dim, dropout_p, global_window=0,
                 global_chunks=1, global_dropout_p=0.0, embed_dropout_p=0.0, input_dropout_p=0.0):
        super().__init__()
        if global_window < 0 or (global_window and (global_chunks < 1 or global_window % global_chunks)):
            raise ValueError(f"global_window ({global_window}) must be >= 0 and split into global_chunks "
                             f"({global_chunks}) equal parts")
        self.local_window_size = local_window_size
        self.embed_dim = embed_dim
        self.global_window = global_window
        self.global_chunks = global_chunks if global_window else 0
        self.global_dropout_p = global_dropout_p
        self.embed_dropout_p = embed_dropout_p
        self.context_size = global_window + local_window_size  # token ids read per prediction
        self.embeddings = nn.Embedding(vocab_size, embed_dim)
        self.input_dropout = nn.Dropout(input_dropout_p)
        self.linear = nn.Linear((local_window_size + self.global_chunks) * embed_dim, hidden_dim)
        self.layer_norm = nn.LayerNorm(hidden_dim)
        self.dropout = nn.Dropout(dropout_p)

    def forward(self, inputs):
        if self.global_window:
            inputs = inputs.reshape(-1, self.context_size)  # (B, G+W)
            far, near = inputs[:, : self.global_window], inputs[:, self.global_window :]  # (B, G), (B, W)
            embeds = self.context_vectors(near, far)  # (B, (W+C)*E)
        else:
            embeds = self.embeddings(inputs)  # (B, W, E), or (W, E) for one window
            type_scale = self.word_type_scale(inputs.device)  # (V,) or None
            if type_scale is not None:
                embeds = embeds * type_scale[inputs].unsqueeze(-1)  # (B, W, E)
            embeds = embeds.reshape(-1, self.local_window_size * self.embed_dim)  # (B, W*E)
        if self.input_dropout.p > 0:  # skipped at 0, so that runs without it draw the same random numbers
            embeds = self.input_dropout(embeds)  # (B, (W+C)*E)
        hidden = torch.tanh(self.linear(embeds))  # (B, H)
        return self.dropout(self.layer_norm(hidden))  # (B, H)

    def word_type_scale(self, device):
        """Training with `embed_dropout_p` p: a (V,) factor per word type, 0 for dropped types and 1/(1-p) for
        the rest (inverted dropout), drawn once per batch; None otherwise."""
        if not (self.training and self.embed_dropout_p > 0):
            return None
        V = self.embeddings.num_embeddings
        keep = torch.rand(V, device=device) >= self.embed_dropout_p  # (V,)
        return keep.to(self.embeddings.weight.dtype) / (1.0 - self.embed_dropout_p)  # (V,)

    def context_vectors(self, near, far):
        """The W local embeddings and the C chunk means, concatenated: (B, W), (B, G) ids -> (B, (W+C)*E).

        One `embedding_bag` computes both (a bag of one word per local position, a bag of G/C words per chunk,
        weighted 1/(known words in the chunk)), so the backward fills one (V, E) gradient, not two. Dropped
        word types (`embed_dropout_p`) get weight 0 in the same bags.
        """
        B, W, G, C, E = near.shape[0], self.local_window_size, self.global_window, self.global_chunks, self.embed_dim
        dtype = self.embeddings.weight.dtype
        known = (far >= 0).reshape(B, C, G // C)  # (B, C, G/C)
        far_weights = known.to(dtype) / known.sum(2, keepdim=True).clamp(min=1)  # (B, C, G/C); no word -> zeros
        if self.training and self.global_dropout_p > 0:
            keep = torch.rand(B, 1, 1, device=far.device) >= self.global_dropout_p  # (B, 1, 1)
            far_weights = far_weights * keep  # not rescaled: zeros mean "no far words", as before a prompt
        near_weights = torch.ones(B, W, dtype=dtype, device=near.device)  # (B, W)
        ids = torch.cat([near, far.clamp(min=0)], dim=1).reshape(-1)  # (B*(W+G),)
        weights = torch.cat([near_weights, far_weights.reshape(B, G)], dim=1).reshape(-1)  # (B*(W+G),)
        type_scale = self.word_type_scale(near.device)  # (V,) or None
        if type_scale is not None:
            weights = weights * type_scale[ids]  # (B*(W+G),)
        starts = torch.cat([torch.arange(W), W + torch.arange(C) * (G // C)]).to(near.device)  # (W+C,)
        offsets = (torch.arange(B, device=near.device)[:, None] * (W + G) + starts).reshape(-1)  # (B*(W+C),)
        vectors = F.embedding_bag(ids, self.embeddings.weight, offsets, mode="sum",
                                  per_sample_weights=weights)  # (B*(W+C), E)
        return vectors.reshape(B, (W + C) * E)

    def global_context(self, far):
        """The far part of `context_vectors` alone: (B, G) ids -> (B, C*E), for inspection and tests."""
        far = far.reshape(-1, self.global_window)  # (B, G)
        near = torch.zeros(far.shape[0], self.local_window_size, dtype=far.dtype, device=far.device)  # (B, W)
        return self.context_vectors(near, far)[:, self.local_window_size * self.embed_dim :]  # (B, C*E)


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
    """The course's output layer: a linear map to the vocabulary without bias, then log-softmax: (B, H) -> (B, V).

    Ours, with `tie_to` (the input `nn.Embedding`): the output word vectors are the input embeddings (Press and
    Wolf 2017; Inan, Khosravi and Socher 2017), reached through a projection (H -> E) when H differs from E.
    """

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
        """-log p(targets) for hidden states (B, H) and targets (B,), without a (B, V) log-softmax tensor."""
        nll = softmax_nll(self.logits(inputs), targets)  # (B,)
        return nll.mean() if reduction == "mean" else nll.sum() if reduction == "sum" else nll

    def target_log_prob(self, inputs, targets):
        return self(inputs).gather(1, targets[:, None]).squeeze(1)  # (B,)


class TiedOutput(nn.Module):
    """Logits over the words lo..hi-1 whose output vectors are rows of an input embedding table: (B, H) ->
    (B, hi - lo), through a projection H -> E (none when H == E and `project` is False). Ours, for tying.

    The table is the first block's `nn.Embedding`, held outside this module's registry (its parameter belongs to
    the first block, once in the state_dict and once in the optimiser) and read at call time, so that moving
    the model to a device, loading a state_dict or averaging weights reaches it through the first block.
    """

    def __init__(self, hidden_dim, embedding: nn.Embedding, lo, hi, project=None):
        super().__init__()
        self._embedding = [embedding]  # a list: not registered as a submodule
        self.lo, self.hi = lo, hi
        E = embedding.embedding_dim
        self.proj = nn.Linear(hidden_dim, E, bias=False) if (project or hidden_dim != E) else None
        self.in_features, self.out_features = hidden_dim, hi - lo

    def forward(self, inputs):
        z = self.proj(inputs) if self.proj is not None else inputs  # (B, E)
        return F.linear(z, self._embedding[0].weight[self.lo : self.hi])  # (B, hi - lo)

    def macs(self) -> int:
        E = self._embedding[0].embedding_dim
        return (self.in_features * E if self.proj is not None else 0) + E * self.out_features


class TiedHead(nn.Module):
    """The adaptive softmax's head with tied word vectors: the shortlist's logits through `TiedOutput` (a
    projection, as Baevski and Auli 2019 tie a head), the clusters' tokens through their own small linear map:
    (B, H) -> (B, shortlist + clusters), the stock head's layout."""

    def __init__(self, hidden_dim, embedding, shortlist_size, n_clusters):
        super().__init__()
        self.words = TiedOutput(hidden_dim, embedding, 0, shortlist_size, project=True)
        self.clusters = nn.Linear(hidden_dim, n_clusters, bias=False)
        self.in_features, self.out_features = hidden_dim, shortlist_size + n_clusters

    def forward(self, inputs):
        return torch.cat([self.words(inputs), self.clusters(inputs)], dim=1)  # (B, shortlist + clusters)

    def macs(self) -> int:
        return self.words.macs() + self.clusters.in_features * self.clusters.out_features


class TiedAdaptiveLogSoftmax(nn.AdaptiveLogSoftmaxWithLoss):
    """`nn.AdaptiveLogSoftmaxWithLoss` whose word vectors are the rows of the input embedding table. The head
    and every tail keep the stock interfaces (`head(x)`, `tail[i](x)` give logits), so the stock `forward`,
    `log_prob` and `predict`, and lm_kernels.adaptive_nll, work unchanged. A tail projects H -> E and scores
    its cluster's rows of the table: the untied tail's own shape where its width H / div_value**(i+1) is E
    (tied directly), a wider projection where it is not."""

    def __init__(self, hidden_dim, vocab_size, cutoffs, div_value, embedding: nn.Embedding):
        super().__init__(hidden_dim, vocab_size, cutoffs, div_value=div_value)
        bounds = self.cutoffs  # [c0, ..., V]
        self.head = TiedHead(hidden_dim, embedding, self.shortlist_size, self.n_clusters)
        self.tail = nn.ModuleList([TiedOutput(hidden_dim, embedding, bounds[i], bounds[i + 1], project=True)
                                   for i in range(self.n_clusters)])


class NPLMAdaptiveFinalBlock(nn.Module):
    """Ours: an adaptive softmax output layer (Grave et al. 2017): a head over the frequent words and one token
    per cluster of rarer words, each cluster a smaller tail (ids are frequency ranks, as WordTokenizer gives).

    `forward` gives the full log-probabilities (B, V), for scoring and generation; `nll` evaluates a tail only
    for the targets that fall in it: the same distribution's exact loss, at a fraction of the cost. With
    `tie_to`, the word vectors are the input embeddings (`TiedAdaptiveLogSoftmax`).
    """

    def __init__(self, vocab_size, hidden_dim, cutoffs=(1022, 9982), div_value=4.0, tie_to=None):
        super().__init__()
        # a small test vocabulary keeps the cutoffs below it, or one in the middle
        self.cutoffs = sorted({int(c) for c in cutoffs if 0 < int(c) < vocab_size - 1}) or [max(1, vocab_size // 2)]
        if tie_to is None:
            self.adaptive = nn.AdaptiveLogSoftmaxWithLoss(hidden_dim, vocab_size, self.cutoffs, div_value=div_value)
        else:  # ours: word vectors shared with the input embeddings
            self.adaptive = TiedAdaptiveLogSoftmax(hidden_dim, vocab_size, self.cutoffs, div_value, tie_to)

    def forward(self, inputs):
        return self.adaptive.log_prob(inputs)  # (B, V)

    def nll(self, inputs, targets, reduction="mean"):
        return adaptive_nll(self.adaptive, inputs, targets, reduction=reduction)

    def target_log_prob(self, inputs, targets):
        return self.adaptive(inputs, targets).output  # (B,)


class NPLM(nn.Module):
    """The first block, `num_blocks` residual blocks each followed by ReLU, and the output layer: (B, W) ids ->
    (B, V) log-probabilities of the next word (one window (W,) gives (1, V)).

    The keyword arguments are ours (see `LMConfig`); their defaults give the course's model.
    """

    def __init__(self, vocab_size, embed_dim, local_window_size, hidden_dim, num_blocks, dropout_p, *,
                 output_layer="full", cutoffs=(1022, 9982), div_value=4.0, global_window=0, global_chunks=1,
                 global_dropout_p=0.0, tie_embeddings=False, embed_dropout_p=0.0, input_dropout_p=0.0):
        super().__init__()
        self.first_layer = NPLMFirstBlock(vocab_size, embed_dim, local_window_size, hidden_dim, dropout_p,
                                          global_window, global_chunks, global_dropout_p, embed_dropout_p,
                                          input_dropout_p)
        self.intermediate_layers = nn.ModuleList([NPLMBlock(hidden_dim, dropout_p) for _ in range(num_blocks)])
        tie_to = self.first_layer.embeddings if tie_embeddings else None
        if tie_to is not None:  # N(0, 1) rows would make the tied logits' scale sqrt(E) at the start
            nn.init.normal_(tie_to.weight, std=embed_dim ** -0.5)
        if output_layer == "full":
            self.final_layer = NPLMFinalBlock(vocab_size, hidden_dim, tie_to)
        elif output_layer == "adaptive":
            self.final_layer = NPLMAdaptiveFinalBlock(vocab_size, hidden_dim, cutoffs, div_value, tie_to)
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
        """(B, V) log-probabilities, as the course's; with `targets`, their NLL instead (`nll`), so that a
        DistributedDataParallel wrapper sees the training loss computed through its own forward."""
        if targets is not None:
            return self.nll(inputs, targets, reduction)
        return self.final_layer(self.features(inputs))  # (B, V)

    def nll(self, inputs, targets, reduction="mean"):
        """Negative log-likelihood of the next words `targets` (B,) after `inputs` (B, W): the training loss
        without a (B, V) tensor of log-probabilities where the output layer can avoid one."""
        return self.final_layer.nll(self.features(inputs), targets, reduction=reduction)


# The model's hyper-parameters, read off NPLM's signature: a config and a checkpoint carry these fields.
MODEL_FIELDS = tuple(inspect.signature(NPLM).parameters)[1:]


def model_fields(config) -> dict:
    return {name: getattr(config, name) for name in MODEL_FIELDS}


def build_model(config, vocab_size: int, device="cpu") -> NPLM:
    """The NPLM of `config`, built on the CPU (the same initial weights for every device) and moved to `device`.
    config.fast swaps in lm_kernels' cheaper dropout masks on a CPU; a GPU's own dropout kernel is fused."""
    model = NPLM(vocab_size, **model_fields(config))
    if config.fast and torch.device(device).type == "cpu":
        use_bit_dropout(model)
    return model.to(device)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def test_model_forward(model, sample, local_window_size, tokenizer):
    """The course's check on one batch: one row of log-probabilities over the vocabulary per target.
    Runs in eval mode without gradients (so it draws no dropout mask) and restores the model's mode."""
    inp, target = sample
    was_training = model.training
    model.eval()
    with torch.no_grad():
        log_probs = model(inp)  # (B, V)
    model.train(was_training)
    assert inp.shape[-1] == getattr(model, "context_size", local_window_size), "windows of the wrong width"
    assert log_probs.shape[0] == target.shape[0], "one output row per target"
    assert log_probs.shape[1] == tokenizer.vocab_size, "a distribution over the whole vocabulary"


# --------------------------------------------------------------------------- checkpoints (formats: lm_checkpoint.py)
def load_checkpoint(path, config=None) -> tuple[NPLM, WordTokenizer, dict]:
    """(model in eval mode, tokenizer, meta) for the checkpoint at `path`. The model is built from `config`
    when given (as the course's sample_from_mlp_lm does), else from the config saved beside the weights."""
    tokenizer, meta = load_checkpoint_meta(path)
    saved = meta["model"]
    if config is not None:
        differ = {k: (saved.get(k), v) for k, v in model_fields(config).items() if saved.get(k, v) != v}
        if differ:
            said = ", ".join(f"{k}={new!r} (trained with {old!r})" for k, (old, new) in differ.items())
            raise CheckpointError(f"the config does not match the model saved at {path}: {said}")
    try:
        model = NPLM(tokenizer.vocab_size, **saved)
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    except Exception as err:  # weights that match their checksum but not their own JSON: made by other code
        raise CheckpointError(f"{path} does not hold the model its JSON describes ({type(err).__name__}); "
                              f"train again with `python main.py lm`") from None
    return model.eval(), tokenizer, meta


# --------------------------------------------------------------------------- training
def _batch_loss(model, criterion, inp, target, reduction="mean"):
    """The batch's NLL: the model's own loss for an adaptive softmax or without a criterion (our fast path),
    else criterion(log_probs, target) as the course computes it."""
    core = getattr(model, "module", model)  # under DistributedDataParallel
    if criterion is None or isinstance(getattr(core, "final_layer", None), NPLMAdaptiveFinalBlock):
        return model(inp, target, reduction=reduction)
    loss = criterion(model(inp), target)
    return loss * target.numel() if reduction == "sum" else loss


class WeightAverage:
    """Ours: an exponential moving average of the parameters (Polyak and Juditsky 1992), updated every step.

    The first steps use the smaller decay (1 + t) / (10 + t), so the average does not stay anchored at the
    random initialisation. `applied()` swaps the average into the model and puts the trained weights back.
    """

    def __init__(self, model: nn.Module, decay: float):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"ema_decay must be in (0, 1), got {decay}")
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.shadow = [p.detach().clone() for p in self.params]
        self.decay, self.steps = decay, 0

    @torch.no_grad()
    def update(self) -> None:
        self.steps += 1
        weight = 1.0 - min(self.decay, (1 + self.steps) / (10 + self.steps))
        for avg, p in zip(self.shadow, self.params):
            avg.lerp_(p, weight)

    def state_dict(self) -> dict:
        return {"shadow": self.shadow, "steps": self.steps}

    def load_state_dict(self, state: dict) -> None:
        with torch.no_grad():
            for avg, saved in zip(self.shadow, state["shadow"]):
                avg.copy_(saved)
        self.steps = state["steps"]

    @contextlib.contextmanager
    def applied(self):
        with torch.no_grad():
            trained = [p.detach().clone() for p in self.params]
            for p, avg in zip(self.params, self.shadow):
                p.copy_(avg)
        try:
            yield
        finally:
            with torch.no_grad():
                for p, w in zip(self.params, trained):
                    p.copy_(w)


def train(model, train_dataloader, dev_dataloader, criterion, optimizer, scheduler, num_epochs, save_path,
          print_every=100, *, patience=None, ema_decay=0.0, checkpoint_meta=None, record=None, log=print,
          state_path=None, resume=None, precision="fp32"):
    """Train for num_epochs, stepping the scheduler every batch as the course does; after each epoch score the
    dev set and save the weights with the best dev perplexity so far at `save_path` (a state_dict, atomically).

    Loaders yield (contexts (B, W), targets (B,)): a DataLoader or a `WindowBatches`; batches go to the model's
    device. An epoch's train loss is the token-weighted mean over its batches and its perplexity exp of that
    mean (a mean of per-batch perplexities would overstate it, by Jensen's inequality). A NaN or infinite loss
    stops training with utils.TrainingDiverged. Ours, by keyword: `patience` stops early; `ema_decay` > 0
    scores and saves the weight average; `checkpoint_meta` (vocabulary and config) is written beside the
    weights; `record`, a dict, receives the best weights ("best_state", "best_epoch") and, with an average, the
    last iterate's dev perplexity per epoch ("dev_ppl_last_iterate"); `state_path` keeps, after every epoch,
    all that training needs to go on, and `resume`, such a state (`load_training_state`), continues from it:
    the run then ends with the numbers of an uninterrupted one; `precision="bf16"` runs the forward passes
    under bfloat16 autocast. A DistributedDataParallel `model` with loaders split by rank (torchrun) trains
    on the global batch: each process's loss is its share of the global mean, only rank 0 writes files.
    Returns (train losses, train perplexities, dev losses, dev perplexities), one value per epoch.
    """
    core = getattr(model, "module", model)  # the NPLM itself, under DistributedDataParallel or not
    device = next(core.parameters()).device
    world = getattr(train_dataloader, "world", 1)
    writer = getattr(train_dataloader, "rank", 0) == 0
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")
    best_ppl, bad_epochs, first_epoch, stopped = math.inf, 0, 0, False
    hist = ([], [], [], [])
    record = {} if record is None else record
    average = WeightAverage(core, ema_decay) if ema_decay else None
    generator = getattr(train_dataloader, "generator", None)  # WindowBatches' shuffle; a DataLoader's is torch's
    if resume is not None:
        hist, best_ppl, bad_epochs, stopped = restore_training_state(resume, core, optimizer, scheduler, average,
                                                                     generator, record)
        first_epoch = resume["epoch"] + 1
        log(f"{'-' * 10} resuming after epoch {resume['epoch']} {'-' * 10}")
    for epoch in range(first_epoch, 0 if stopped else num_epochs):
        model.train()
        log(f"{'-' * 10} Epoch {epoch}: Training {'-' * 10}")
        loss_sum = torch.zeros((), dtype=torch.float64, device=device)
        n_tokens, t0 = 0, time.perf_counter()
        for idx, (inp, target) in enumerate(utils.progress(train_dataloader, desc=f"epoch {epoch}")):
            inp, target = inp.to(device, non_blocking=True), target.to(device, non_blocking=True)
            with autocast:
                if world > 1:  # this share's sum over the global batch's size: DDP's mean over processes is
                    share = _batch_loss(model, criterion, inp, target, reduction="sum")  # the global mean
                    count = torch.tensor(float(target.numel()), device=device)
                    torch.distributed.all_reduce(count)
                    loss, batch_sum = share * (world / count), share.detach().double()
                else:
                    loss = _batch_loss(model, criterion, inp, target)
                    batch_sum = loss.detach().double() * target.numel()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            if average is not None:
                average.update()
            loss_sum += batch_sum
            n_tokens += target.numel()
            # A CPU checks every step; an accelerator every 100, so that it need not wait for each step's loss.
            if (device.type == "cpu" or idx % 100 == 0) and not torch.isfinite(loss_sum):
                kept = (f"the checkpoint of epoch {record['best_epoch']} is kept" if "best_epoch" in record
                        else "no checkpoint was kept")
                raise utils.TrainingDiverged(
                    f"the training loss became {loss.item()} at epoch {epoch}, by step {idx} (lr "
                    f"{optimizer.param_groups[0]['lr']:.2e}); {kept}: lower the learning rate, or check the data")
            if print_every and idx % print_every == 0:
                rate = n_tokens * world / max(time.perf_counter() - t0, 1e-9)
                log(f"  iter {idx:6d}  loss {loss.item():.4f}  ppl {math.exp(min(loss.item(), 50)):9.2f}  "
                    f"lr {optimizer.param_groups[0]['lr']:.2e}  {rate:,.0f} tokens/s")
        totals = torch.stack([loss_sum, torch.tensor(float(n_tokens), dtype=torch.float64, device=device)])
        if world > 1:
            torch.distributed.all_reduce(totals)
        train_loss = totals[0].item() / max(totals[1].item(), 1)
        if not math.isfinite(train_loss):
            raise utils.TrainingDiverged(f"the training loss became {train_loss} in epoch {epoch}; lower the "
                                         f"learning rate, or check the data")
        hist[0].append(train_loss)
        hist[1].append(math.exp(min(train_loss, 700)))
        log(f"{'-' * 10} Epoch {epoch}: Evaluation on Dev Set {'-' * 10}")
        with autocast:
            if average is not None:
                record.setdefault("dev_ppl_last_iterate", []).append(evaluate(core, dev_dataloader, criterion)[1])
            with average.applied() if average is not None else contextlib.nullcontext():
                dev_loss, dev_ppl = evaluate(core, dev_dataloader, criterion)
                if dev_ppl < best_ppl:  # the weights scored, copied (to the CPU): training goes on with the live ones
                    best_state = {k: v.detach().to("cpu", copy=True) for k, v in core.state_dict().items()}
        if not math.isfinite(dev_loss):
            raise utils.TrainingDiverged(f"the dev loss became {dev_loss} after epoch {epoch}; lower the learning rate")
        hist[2].append(dev_loss)
        hist[3].append(dev_ppl)
        log(f"Epoch {epoch}: train loss {train_loss:.4f} (ppl {hist[1][-1]:.2f}); dev loss {dev_loss:.4f}, "
            f"dev ppl {dev_ppl:.2f}; {time.perf_counter() - t0:.0f} s")
        if dev_ppl < best_ppl:
            log(f"{'-' * 10} Epoch {epoch}: best dev perplexity improved from {best_ppl:.2f} to {dev_ppl:.2f}, "
                f"saving the model to {save_path} {'-' * 10}")
            best_ppl, bad_epochs = dev_ppl, 0
            record.update(best_state=best_state, best_epoch=epoch)
            if save_path and writer:
                meta = None if checkpoint_meta is None else {**checkpoint_meta, "epoch": epoch, "dev_ppl": dev_ppl}
                save_checkpoint(best_state, save_path, meta)
        else:
            bad_epochs += 1
            stopped = patience is not None and bad_epochs >= patience
        if state_path and writer:
            save_training_state(state_path, epoch, core, optimizer, scheduler, average, generator, hist, record,
                                best_ppl, bad_epochs, stopped, checkpoint_meta)
        if stopped:
            log(f"early stopping: no better dev perplexity for {patience} epochs")
            break
    return hist


def evaluate(model, eval_dataloader, criterion):
    """(mean loss per target token, perplexity = exp(mean loss)), batches weighted by their size; under
    torch.no_grad() in eval mode, restoring the model's mode. A loader split by rank (WindowBatches with
    world > 1) scores each process's block, and the sums are added over processes: every target counts once."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    total = torch.zeros((), dtype=torch.float64, device=device)
    count = 0
    try:
        with torch.no_grad():
            for inp, target in eval_dataloader:
                inp, target = inp.to(device, non_blocking=True), target.to(device, non_blocking=True)
                total += _batch_loss(model, criterion, inp, target, reduction="sum").double()
                count += target.numel()
    finally:
        model.train(was_training)
    sums = torch.stack([total, torch.tensor(float(count), dtype=torch.float64, device=device)])
    if getattr(eval_dataloader, "world", 1) > 1:
        torch.distributed.all_reduce(sums)
    if sums[1].item() == 0:
        raise ValueError("evaluate: the evaluation data is empty")
    avg_loss = sums[0].item() / sums[1].item()
    return avg_loss, math.exp(min(avg_loss, 709.0))


# --------------------------------------------------------------------------- generation
def top_p_filter(log_probs: torch.Tensor, top_p: float) -> torch.Tensor:
    """Nucleus filtering (Holtzman et al. 2020): keep the smallest set of most likely tokens whose probability
    reaches top_p, set the rest to -inf: (B, V) or (V,) -> the same shape. The most likely token is always
    kept; top_p >= 1 keeps everything."""
    if not 0.0 <= top_p <= 1.0:
        raise ValueError(f"top_p must be in [0, 1], got {top_p}")
    if top_p >= 1.0:
        return log_probs
    sorted_lp, order = torch.sort(log_probs, dim=-1, descending=True)  # (B, V)
    probs = F.softmax(sorted_lp, dim=-1)  # (B, V)
    mass_before = torch.cumsum(probs, dim=-1) - probs  # (B, V): probability of the strictly more likely tokens
    drop_sorted = mass_before >= top_p  # (B, V)
    drop_sorted[..., 0] = False
    drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)  # back to vocabulary order
    return log_probs.masked_fill(drop, float("-inf"))


def generate_text(prompt, model, tokenizer, local_window_size, top_p, max_len=30, generator=None, verbose=True):
    """Continue `prompt` by max_len tokens; return the text (also printed, as the course does).

    Greedy when top_p is None or 0, else nucleus sampling (seedable with `generator`). Prompts shorter than
    the window are padded with `<eos>`, as training pads the first windows of a split.
    """
    if top_p is not None and (isinstance(top_p, bool) or not 0.0 <= float(top_p) <= 1.0):
        raise ValueError(f"top_p must be None or in [0, 1], got {top_p!r}")
    if max_len < 0:
        raise ValueError(f"max_len must be >= 0, got {max_len}")
    ids = tokenizer.convert_tokens_to_ids(tokenizer.tokenize(prompt))
    pad_id = getattr(tokenizer, "pad_token_id", None)
    if pad_id is None:
        pad_id = tokenizer.convert_tokens_to_ids(getattr(tokenizer, "eos_token", "<eos>"))
    W = int(local_window_size)
    G = max(0, getattr(model, "context_size", W) - W)  # far words of a global context: none before the prompt
    context = [pad_id] * W + list(ids)
    device = next(iter(model.parameters()), torch.empty(0)).device
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for _ in range(max_len):
                far = ([-1] * G + context[W:-W])[-G:] if G else []  # (G,): -1 is "no word"
                window = torch.tensor(far + context[-W:], dtype=torch.long, device=device)  # (G+W,)
                log_probs = model(window)  # (1, V)
                if top_p:
                    filtered = top_p_filter(log_probs.float().cpu(), float(top_p))  # (1, V); sampled on the CPU,
                    pred = torch.multinomial(filtered.softmax(-1), 1, generator=generator).item()  # its generator's
                else:
                    pred = int(torch.argmax(log_probs).item())
                context.append(pred)
    finally:
        model.train(was_training)
    generation = tokenizer.convert_tokens_to_string(tokenizer.convert_ids_to_tokens(context[W:]))
    if verbose:
        print(f"Generated text: {generation}")
    return generation


def sample_prompt(model, tokenizer, prompt=COURSE_PROMPT, top_ps=(None, 0.0, 0.3, 1.0), max_len=30, seed=42):
    """{"greedy" or "top_p=P": text} for each top_p, as the course's sample_from_mlp_lm prints them; sampling
    draws from one generator seeded with `seed`."""
    gen = torch.Generator().manual_seed(seed)
    samples = {}
    for p in top_ps:
        label = "greedy" if p is None else f"top_p={p}"
        print(f"{'-' * 10} {label} {'-' * 10}")
        samples[label] = generate_text(prompt, model, tokenizer, model.first_layer.local_window_size, top_p=p,
                                       max_len=max_len, generator=gen)
    return samples


def visualize_epochs(epoch_train_stats, epoch_dev_stats, stat_name, save_fig_path, title=None):
    """Train and dev curves of one statistic per epoch (utils.plot_curves)."""
    return utils.plot_curves({"train": list(epoch_train_stats), "dev": list(epoch_dev_stats)}, ylabel=stat_name,
                             save_fig_path=save_fig_path, title=title or f"MLP language model: {stat_name}")


# --------------------------------------------------------------------------- the course's entry points
def make_optimizer(model, config, total_steps):
    """The course's Adam and ExponentialLR(decay); or ours (config.optimizer, config.schedule): fused AdamW,
    linear warmup, then a cosine to 5 % of lr, a linear decay to 0, or a constant."""
    if config.optimizer == "adam":
        optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    else:
        optimizer = make_adamw(model, config.lr, config.weight_decay)
    if config.schedule == "exponential":
        return optimizer, torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=config.decay)
    warmup, schedule = config.warmup_steps, config.schedule

    def factor(step):
        if step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, total_steps - warmup))
        if schedule == "cosine":
            return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress))
        return max(0.0, 1.0 - progress) if schedule == "linear" else 1.0

    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


@dataclass
class TrainedLM:
    """What `fit_mlp_lm` gives back: the model holding its best weights (eval mode), its tokenizer, the
    per-epoch history and the run's numbers."""

    model: NPLM
    tokenizer: WordTokenizer
    config: LMConfig
    report: dict


def fit_mlp_lm(config, train_data, dev_data, log=print, state_path=None, resume=False) -> TrainedLM:
    """Build the vocabulary, batches, model and optimiser of `config`; train; return the best model and every
    number. The course's pipeline unless config.fast: a DataLoader over windows, shuffled by torch's seed.
    `state_path` keeps the training state after every epoch; `resume` continues from it (the same config)."""
    config = as_lm_config(config)
    state = load_training_state(state_path) if resume else None
    if state is not None:
        ignored = ("num_threads", "print_every", "device", "cache_size", "cache_thetas", "cache_lambdas",
                   "dynamic_segment", "dynamic_lrs", "dynamic_decays", "dynamic_tune_tokens")  # where and how a
        # run is watched, and how its best model is scored after training: not what it trains
        saved = {**LMConfig.ADDED_OFF, **state["meta"]["config"]}  # a state saved before those fields ran without them
        differ = [f"{k}={v!r} (the state has {saved.get(k)!r})" for k, v in config.to_dict().items()
                  if k not in ignored and saved.get(k) != v]
        if differ:
            raise CheckpointError(f"cannot resume from {state_path} with another config: {', '.join(differ)}")
    device = utils.get_device(config.device)
    distributed = torch.distributed.is_available() and torch.distributed.is_initialized()
    rank, world = (torch.distributed.get_rank(), torch.distributed.get_world_size()) if distributed else (0, 1)
    if world > 1 and not config.fast:
        raise ValueError("several processes (torchrun) train the fast pipeline only (LMConfig.fast); the course's "
                         "DataLoader pipeline runs in one process")
    if world > 1 and device.type == "cuda":
        device = torch.device("cuda", torch.cuda.current_device())  # this process's GPU, set from LOCAL_RANK
    log = log if rank == 0 else (lambda *args, **kwargs: None)
    gen = utils.set_seed(config.seed)
    t_start = time.perf_counter()
    train_texts = texts_of(train_data)
    tokenizer = WordTokenizer.from_texts(train_texts, min_count=config.min_count)
    log(f"{'-' * 10} Preprocess Data {'-' * 10}")
    train_stream = encode_stream(train_texts, tokenizer, config.max_train_tokens)  # (T,)
    dev_stream = encode_stream(dev_data, tokenizer, config.max_dev_tokens)  # (T_dev,)
    log(f"vocabulary {tokenizer.vocab_size:,} words (train split only); train {train_stream.numel():,} tokens, "
        f"dev {dev_stream.numel():,} targets")
    model = build_model(config, tokenizer.vocab_size, device)
    if world > 1:  # the same initial weights everywhere, then each process its own dropout masks
        torch.manual_seed(config.seed + rank)
    W, pad, eval_bs = model.context_size, tokenizer.pad_token_id, config.eval_batch_size or config.batch_size
    if config.fast:  # a global batch of batch_size, split between the processes
        train_loader = WindowBatches(train_stream, W, pad, config.batch_size, shuffle=True, generator=gen,
                                     device=device, rank=rank, world=world)
        dev_loader = WindowBatches(dev_stream, W, pad, eval_bs, device=device, rank=rank, world=world)
        sample = next(iter(WindowBatches(train_stream, W, pad, config.batch_size, device=device)))  # no randomness
    else:
        train_loader = DataLoader(TensorDataset(*windows_from_stream(train_stream, W, pad)), config.batch_size,
                                  shuffle=True)
        dev_loader = DataLoader(TensorDataset(*windows_from_stream(dev_stream, W, pad)), eval_bs)
        sample = tuple(t.to(device) for t in next(iter(train_loader)))
    n_params = count_parameters(model)
    log(f"{'-' * 10} Create Model: {n_params:,} parameters, {model.output_layer} softmax {'-' * 10}")
    test_model_forward(model, sample, config.local_window_size, tokenizer)
    optimizer, scheduler = make_optimizer(model, config, config.num_epochs * len(train_loader))
    meta = {"tokenizer": tokenizer.to_dict(), "model": model_fields(config), "config": config.to_dict()}
    record: dict = {}
    net, threads = model, config.num_threads
    if world > 1:
        net = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None,
            find_unused_parameters=config.output_layer == "adaptive")  # a batch may leave a tail cluster unused
        if device.type == "cpu":  # the processes of one machine share its cores
            threads = max(1, (threads or os.cpu_count() or 1) // int(os.environ.get("LOCAL_WORLD_SIZE", world)))
    t_train = time.perf_counter()
    with utils.torch_threads(threads):
        hist = train(net, train_loader, dev_loader, nn.NLLLoss(), optimizer, scheduler, config.num_epochs,
                     config.save_path, config.print_every, patience=config.patience, ema_decay=config.ema_decay,
                     checkpoint_meta=meta, record=record, log=log, state_path=state_path, resume=state,
                     precision=config.precision)
    train_seconds = time.perf_counter() - t_train
    model.load_state_dict(record["best_state"])
    model.eval()
    best = int(np.argmin(hist[3]))
    extra = {"dev_ppl_last_iterate": record["dev_ppl_last_iterate"]} if "dev_ppl_last_iterate" in record else {}
    report = {
        "history": {"train_loss": hist[0], "train_ppl": hist[1], "dev_loss": hist[2], "dev_ppl": hist[3], **extra},
        "best_epoch": best + 1, "best_dev_ppl": hist[3][best], "best_dev_loss": hist[2][best],
        "epochs_run": len(hist[0]), "parameters": n_params, "vocab_size": tokenizer.vocab_size,
        "train_tokens": train_stream.numel(), "dev_targets": dev_stream.numel(), "train_seconds": train_seconds,
        "train_tokens_per_second_incl_eval": len(hist[0]) * train_stream.numel() / train_seconds,
        "seconds_total": time.perf_counter() - t_start, "save_path": str(config.save_path),
        "flops": train_flops_per_token(model, train_stream), "device": str(device), "processes": world,
        "global_batch_size": config.batch_size,
    }
    return TrainedLM(model, tokenizer, config, report)


def run_mlp_lm(config, train_data, dev_data):
    """Train the model of `config` on train_data, keep the best at config.save_path; returns (train losses,
    train perplexities, dev losses, dev perplexities), one per epoch, as the course does."""
    h = fit_mlp_lm(config, train_data, dev_data).report["history"]
    return h["train_loss"], h["train_ppl"], h["dev_loss"], h["dev_ppl"]


def sample_from_mlp_lm(config, dev_data, prompt=COURSE_PROMPT, top_ps=(None, 0.0, 0.3, 1.0), max_len=30):
    """Rebuild the model of `config`, load the weights at config.save_path (the vocabulary from the JSON beside
    them), report dev perplexity when dev_data is given, and print the prompt's continuations: greedy,
    p = 0.0 (the same as greedy), 0.3 and 1.0. Returns the numbers and the samples."""
    config = as_lm_config(config)
    print(f"{'-' * 10} Load Model Weights {'-' * 10}")
    model, tokenizer, meta = load_checkpoint(config.save_path, config)
    device = utils.get_device(config.device)
    model.to(device)
    out = {"checkpoint": str(config.save_path), "checkpoint_epoch": meta.get("epoch")}
    if dev_data is not None:
        print(f"{'-' * 10} Evaluate on the Dev Set {'-' * 10}")
        stream = encode_stream(dev_data, tokenizer)
        batches = WindowBatches(stream, model.context_size, tokenizer.pad_token_id,
                                config.eval_batch_size or config.batch_size, device=device)
        out["dev_loss"], out["dev_ppl"] = evaluate(model, batches, nn.NLLLoss())
        out["dev_targets"] = stream.numel()
        print(f"Dev Perplexity: {out['dev_ppl']:.2f}; Dev Loss: {out['dev_loss']:.4f} ({stream.numel():,} targets)")
    print(f"{'-' * 10} Sample From the Model {'-' * 10}")
    out["prompt"] = prompt
    out["samples"] = sample_prompt(model, tokenizer, prompt, top_ps, max_len, seed=config.seed)
    return out
