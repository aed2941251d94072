"""A fixed-window MLP language model (Bengio et al. 2003) on WikiText-2, with an adaptive softmax output.

Bengio, Ducharme, Vincent and Jauvin. 2003. *A Neural Probabilistic Language Model.* JMLR 3:1137-1155.
Grave, Joulin, Cisse, Grangier and Jegou. 2017. *Efficient softmax approximation for GPUs.* ICML.
Sun and Iyyer. 2021. *Revisiting Simple Neural Probabilistic Language Models.* NAACL.
Grave, Joulin and Usunier. 2017. *Improving Neural Language Models with a Continuous Cache.* ICLR.

The course (homework 3, second half) trained this model on a slice of WikiText-103 with a downloaded BERT
tokenizer. Here it runs offline on the local, pre-tokenized WikiText-2 files with a word-level vocabulary
(`WordTokenizer`), and it is scored the standard way (every token of the split, one `<eos>` per line, is a
target; perplexity = exp of the mean loss per target token), so its perplexity can be set beside published
WikiText-2 numbers.

What is kept from the course skeleton: the names and signatures of `load_data_mlp_lm`, `preprocess_data`, the
four `NPLM*` modules and their attributes, `train`, `evaluate`, `generate_text`, `visualize_epochs`,
`run_mlp_lm` and `sample_from_mlp_lm`. What is new: `WordTokenizer`, the adaptive softmax output layer
(`NPLM(..., output_layer="adaptive")`, Grave et al. 2017), an optional global context (the mean embedding of
the words before the window, after Sun and Iyyer 2021), an average of the weights (`WeightAverage`), a batcher
that cuts windows out of one long token tensor (`WindowBatches`, no DataLoader), self-contained checkpoints
(weights + vocabulary + config, loadable with `weights_only=True`), `top_p_filter`, a continuous cache that
scores a trained model together with its own recent hidden states (`score_with_cache`, Grave et al. 2017; the
end of `python main.py lm` and `python main.py cache`), and the `main_lm` / `main_sample` / `main_cache` entry
points used by main.py.

Nothing here runs at import time.
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import List

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import utils
from lm_cache import (CACHE_LAMBDAS, CACHE_THETAS, _check_cache_args, continuous_cache_nll,  # noqa: F401
                      features_and_log_probs, score_with_cache)
from lm_data import (TEST_FILE, TRAIN_FILE, VALID_FILE, WIKITEXT_DIR, WindowBatches, WordTokenizer,  # noqa: F401
                     _texts, encode_stream, load_data_mlp_lm, preprocess_data, windows_from_stream)
from lm_kernels import BitDropout, _SoftmaxNLL, adaptive_nll, make_adamw, softmax_nll  # noqa: F401

COURSE_PROMPT = "The best perks of living on the east"
CHECKPOINT_FORMAT = "hw3-nplm-v1"


# --------------------------------------------------------------------------- configuration
@dataclass
class LMConfig:
    """Hyper-parameters of the MLP language model; attribute access like the course's EasyDict.

    The course's skeleton used embed_dim 256, hidden_dim 1048, num_blocks 4, dropout 0.2, window 6, a full
    softmax over a 29k BERT vocabulary, Adam with exponential decay. Our default is smaller and cheaper so that
    `python main.py lm` trains in under 20 minutes on 2 CPU cores: a window of 8 words, embed_dim 128, one
    intermediate block, hidden 512, and an adaptive softmax output layer (Grave et al. 2017) with cutoffs
    [1022, 9982], about 10 times cheaper per token than the full softmax over 32.5k words (benchmark_lm.py).
    The cutoffs give a head of 1,024 outputs (1,022 words and 2 cluster tokens), whose product MKL runs faster
    than the 1,002 of the round cutoffs [1000, 10000], and a first tail of 8,960 = 140 * 64 words, which
    measured about the same as their 9,000 (`python benchmark_lm.py --cutoff-products`);
    4 epochs of batch 2048 with fused AdamW (weight decay 0.01) and a cosine schedule, dropout 0.2, 2 threads.
    Two additions outside the course's model, both off with 0: `global_window` 64 adds the mean embedding of the
    64 words before the window (Sun and Iyyer 2021) and `ema_decay` 0.998 scores and saves an exponential moving
    average of the weights. Development runs that chose them (seed 42, dev perplexity after epochs 1 and 2 of
    the 4-epoch schedule): window 6: 268.3, 223.0; window 8 + average: 263.1, 217.7 (its last iterate 268.6,
    220.9); the same + global context 64: 246.1, 198.3. `preset("long")` is the longer configuration. After
    training, `cache_size` 2000 also scores the best checkpoint with a continuous cache (`score_with_cache`).

    Any object with attribute access works where a config is expected; missing fields fall back to these
    defaults (see `cfg_get`).
    """

    # model
    local_window_size: int = 8
    embed_dim: int = 128
    hidden_dim: int = 512
    num_blocks: int = 1
    dropout_p: float = 0.2
    embed_dropout_p: float = 0.0  # not in the course: dropout on the concatenated context embeddings
    word_dropout_p: float = 0.0  # not in the course: drop whole context words (all E values of a position)
    global_window: int = 64  # not in the course: mean embedding of this many words before the local window
    global_chunks: int = 1  # ... cut into this many equal chunks, one mean embedding each (nearest last)
    global_dropout_p: float = 0.1  # share of training examples whose global context is zeroed (= unknown)
    output_layer: str = "adaptive"  # "adaptive" (Grave et al. 2017) or "full" (the course's softmax)
    cutoffs: List[int] = field(default_factory=lambda: [1022, 9982])
    div_value: float = 4.0
    # evaluation only, not in the course: after training, the best checkpoint is also scored with a continuous
    # cache (Grave, Joulin and Usunier 2017) of this many past tokens (0 = off); theta and lambda are chosen on
    # the dev split from these grids, then the test split is scored once
    cache_size: int = 2000
    cache_thetas: List[float] = field(default_factory=lambda: list(CACHE_THETAS))
    cache_lambdas: List[float] = field(default_factory=lambda: list(CACHE_LAMBDAS))
    # optimisation
    batch_size: int = 2048
    eval_batch_size: int = 4096
    lr: float = 3e-3
    weight_decay: float = 0.01
    warmup_steps: int = 100
    schedule: str = "cosine"  # "cosine" (to 5% of lr), "linear", "constant" or "exponential" (course: gamma=decay)
    decay: float = 1.0  # course field: per-step gamma of ExponentialLR when schedule == "exponential"
    num_epochs: int = 4
    patience: int = 2  # early stopping: epochs without a better dev perplexity
    ema_decay: float = 0.998  # >0: evaluate and save an exponential moving average of the weights (Polyak)
    print_every: int = 200
    # data and bookkeeping
    max_train_tokens: int | None = None  # a prefix of the training stream (quick mode)
    max_dev_tokens: int | None = None
    min_count: int = 1  # words seen fewer times in train map to <unk> (WikiText already did this at 3)
    save_path: str = "checkpoints/mlp_lm.pt"
    seed: int = 42
    num_threads: int | None = 2  # 7.6k vs 5.1k tokens/s with 1 thread on an idle 2-core machine (but 3.7x
    # slower than 1 thread when another process holds a core: time it on an otherwise idle machine)
    name: str = "default"

    @classmethod
    def preset(cls, name: str = "default", **overrides) -> "LMConfig":
        """'default' (< 20 min on 2 cores), 'long' (wider, more epochs) or 'quick' (a small slice, < 1 min)."""
        presets = {
            "default": {},
            "long": dict(hidden_dim=1024, dropout_p=0.3, global_window=256, global_chunks=4, ema_decay=0.999,
                         lr=2e-3, num_epochs=5),
            "quick": dict(
                embed_dim=64, hidden_dim=128, batch_size=256, num_epochs=2, max_train_tokens=100_000,
                max_dev_tokens=20_000, warmup_steps=20, print_every=100, dropout_p=0.1, embed_dropout_p=0.0,
            ),
        }
        if name not in presets:
            raise ValueError(f"unknown config {name!r}; choose from {sorted(presets)}")
        values = {**presets[name], **{k: v for k, v in overrides.items() if v is not None}, "name": name}
        return cls(**values)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


_DEFAULTS = LMConfig()


def cfg_get(config, name: str):
    """config.name, or the LMConfig default when an older config (e.g. a course EasyDict) lacks the field."""
    return getattr(config, name, getattr(_DEFAULTS, name))


def config_to_dict(config) -> dict:
    """Every LMConfig field read from any attribute-access config, as plain Python values."""
    out = {}
    for f in dataclasses.fields(LMConfig):
        value = cfg_get(config, f.name)
        out[f.name] = list(value) if isinstance(value, tuple) else value
    return out


# --------------------------------------------------------------------------- model
class NPLMFirstBlock(nn.Module):
    """Embed the W context words, concatenate (Bengio et al. 2003), then linear, tanh, LayerNorm, dropout."""

    def __init__(self, vocab_size, embed_dim, local_window_size, hidden_dim, dropout_p, embed_dropout_p=0.0,
                 word_dropout_p=0.0, global_window=0, global_chunks=1, global_dropout_p=0.0):
        super().__init__()
        for name, p in (("word_dropout_p", word_dropout_p), ("global_dropout_p", global_dropout_p)):
            if not 0.0 <= p < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {p}")
        if isinstance(global_window, bool) or int(global_window) != global_window or global_window < 0:
            raise ValueError(f"global_window must be a whole number >= 0, got {global_window!r}")
        if global_window and (global_chunks < 1 or global_window % global_chunks):
            raise ValueError(f"global_chunks must be >= 1 and divide global_window ({global_window}), "
                             f"got {global_chunks!r}")
        self.local_window_size = local_window_size
        self.embed_dim = embed_dim
        # Not in the course: Sun and Iyyer (2021) add a global context to the NPLM; ours is the mean embedding of
        # the `global_window` words before the local window (or of each of `global_chunks` equal parts of them),
        # one more E-vector per chunk in the concatenation. Inputs are then (B, global_window + local_window_size):
        # the far words first, the local window last. A far id of -1 means "no word" (before the start of a
        # generation prompt) and is left out of the mean; a chunk with no word gives zeros, which is what
        # training sees for a `global_dropout_p` share of its examples, so a model can do without far words.
        self.global_window = int(global_window)
        self.global_dropout_p = global_dropout_p
        self.global_chunks = int(global_chunks) if self.global_window else 0
        self.context_size = self.global_window + local_window_size
        self.embeddings = nn.Embedding(vocab_size, embed_dim)
        self.linear = nn.Linear((local_window_size + self.global_chunks) * embed_dim, hidden_dim)
        self.layer_norm = nn.LayerNorm(hidden_dim)
        self.dropout = BitDropout(dropout_p)
        # Not in the course: dropout on the concatenated embeddings (0 = the course's block exactly).
        self.embed_dropout = BitDropout(embed_dropout_p)
        # Not in the course: zero whole context words (Gal and Ghahramani 2016 drop word types; we drop
        # positions), so the model cannot lean on any single one of its W words.
        self.word_dropout_p = word_dropout_p

    def forward(self, inputs):
        if self.global_window:
            inputs = inputs.reshape(-1, self.context_size)  # (B, G+W)
            far, near = inputs[:, : self.global_window], inputs[:, self.global_window :]  # (B, G), (B, W)
            embeds = self.context_vectors(near, far)  # (B, (W+C)*E)
        else:
            embeds = self.embeddings(inputs)  # (B, W, E), or (W, E) for one window
            if self.training and self.word_dropout_p > 0:
                keep = torch.rand(embeds.shape[:-1] + (1,), device=embeds.device)  # (B, W, 1)
                embeds = embeds * (keep >= self.word_dropout_p) / (1.0 - self.word_dropout_p)  # (B, W, E)
            embeds = embeds.reshape(-1, self.local_window_size * self.embed_dim)  # (B, W*E); one window: (1, W*E)
        embeds = self.embed_dropout(embeds)  # (B, (W+C)*E)
        hidden = torch.tanh(self.linear(embeds))  # (B, H)
        return self.dropout(self.layer_norm(hidden))  # (B, H)

    def context_vectors(self, near, far):
        """The W local embeddings and the C chunk means, concatenated: (B, W) and (B, G) ids -> (B, (W+C)*E).

        One `embedding_bag` computes both: a bag of one word for each local position, a bag of G/C words for
        each chunk, weighted 1 and 1/(known words in the chunk). Its backward fills one (V, E) gradient instead
        of the two that an embedding lookup and a separate bag of far words fill and then add, which is about
        5 ms of a training step on 2 cores. Word and global dropout become weights of 0.
        """
        B, W, G, C, E = near.shape[0], self.local_window_size, self.global_window, self.global_chunks, self.embed_dim
        dtype = self.embeddings.weight.dtype
        known = (far >= 0).reshape(B, C, G // C)  # (B, C, G/C)
        far_weights = known.to(dtype) / known.sum(2, keepdim=True).clamp(min=1)  # (B, C, G/C); no word -> zeros
        near_weights = torch.ones(B, W, dtype=dtype, device=near.device)  # (B, W)
        if self.training and self.word_dropout_p > 0:
            keep = torch.rand(B, W, device=near.device) >= self.word_dropout_p  # (B, W)
            near_weights = keep.to(dtype) / (1.0 - self.word_dropout_p)  # (B, W)
        if self.training and self.global_dropout_p > 0:
            keep = torch.rand(B, 1, 1, device=far.device) >= self.global_dropout_p  # (B, 1, 1)
            far_weights = far_weights * keep  # not rescaled: zeros mean "no far words", as at the start of a prompt
        ids = torch.cat([near, far.clamp(min=0)], dim=1).reshape(-1)  # (B*(W+G),)
        weights = torch.cat([near_weights, far_weights.reshape(B, G)], dim=1).reshape(-1)  # (B*(W+G),)
        starts = torch.cat([torch.arange(W), W + torch.arange(C) * (G // C)]).to(near.device)  # (W+C,) in a row
        offsets = (torch.arange(B, device=near.device)[:, None] * (W + G) + starts).reshape(-1)  # (B*(W+C),)
        vectors = F.embedding_bag(ids, self.embeddings.weight, offsets, mode="sum",
                                  per_sample_weights=weights)  # (B*(W+C), E)
        return vectors.reshape(B, (W + C) * E)

    def global_context(self, far):
        """Mean embedding of each of the C chunks of the far words (B, G) -> (B, C*E); ids < 0 are no word.

        The far part of `context_vectors` (with placeholder local words), for inspection and tests.
        """
        far = far.reshape(-1, self.global_window)  # (B, G)
        near = torch.zeros(far.shape[0], self.local_window_size, dtype=far.dtype, device=far.device)  # (B, W)
        return self.context_vectors(near, far)[:, self.local_window_size * self.embed_dim :]  # (B, C*E)


class NPLMBlock(nn.Module):
    """linear, tanh, residual add, LayerNorm, dropout."""

    def __init__(self, hidden_dim, dropout_p):
        super().__init__()
        self.hidden_dim = hidden_dim
        self.linear = nn.Linear(hidden_dim, hidden_dim)
        self.layer_norm = nn.LayerNorm(hidden_dim)
        self.dropout = BitDropout(dropout_p)

    def forward(self, inputs):
        hidden = torch.tanh(self.linear(inputs))  # (B, H)
        return self.dropout(self.layer_norm(inputs + hidden))  # (B, H)


class NPLMFinalBlock(nn.Module):
    """The course's output layer: a linear map to the vocabulary without bias, then log-softmax."""

    def __init__(self, vocab_size, hidden_dim):
        super().__init__()
        self.linear = nn.Linear(hidden_dim, vocab_size, bias=False)

    def forward(self, inputs):
        return F.log_softmax(self.linear(inputs), dim=-1)  # (B, V)

    def nll(self, inputs, targets, reduction="mean"):
        """Negative log-likelihood of `targets` (B,) given hidden states (B, H)."""
        nll = softmax_nll(self.linear(inputs), targets)  # (B,)
        return nll.mean() if reduction == "mean" else nll.sum() if reduction == "sum" else nll

    def target_log_prob(self, inputs, targets):
        """log p(target) (B,) for hidden states (B, H)."""
        return self(inputs).gather(1, targets[:, None]).squeeze(1)  # (B,)


class NPLMAdaptiveFinalBlock(nn.Module):
    """Adaptive softmax output layer (Grave et al. 2017): a head over the frequent words and a few clusters,
    and smaller tails for rarer words (token ids are frequency ranks, as `WordTokenizer` assigns them).

    `forward` returns the full log-probabilities (B, V) (`log_prob`), for scoring and generation; `nll` uses the
    module's own forward, which evaluates a tail only for the targets that fall in it: the exact negative
    log-likelihood under the same distribution, at a fraction of the cost.
    """

    def __init__(self, vocab_size, hidden_dim, cutoffs=(2000, 10000), div_value=4.0):
        super().__init__()
        self.cutoffs = effective_cutoffs(cutoffs, vocab_size)
        self.adaptive = nn.AdaptiveLogSoftmaxWithLoss(hidden_dim, vocab_size, self.cutoffs, div_value=div_value)

    def forward(self, inputs):
        return self.adaptive.log_prob(inputs)  # (B, V)

    def nll(self, inputs, targets, reduction="mean"):
        return adaptive_nll(self.adaptive, inputs, targets, reduction=reduction)

    def target_log_prob(self, inputs, targets):
        """log p(target) (B,) for hidden states (B, H), without the full (B, V) distribution."""
        return self.adaptive(inputs, targets).output  # (B,)


def effective_cutoffs(cutoffs, vocab_size) -> list[int]:
    """The cutoffs below vocab_size - 1 (small test vocabularies); one middle cutoff if none is left."""
    kept = sorted({int(c) for c in cutoffs if 0 < int(c) < vocab_size - 1})
    return kept or [max(1, vocab_size // 2)]


class NPLM(nn.Module):
    """Bengio et al. (2003) fixed-window neural probabilistic language model, as in the course.

    First block, `num_blocks` residual blocks each followed by ReLU, and an output layer returning
    log-probabilities (B, V) (a single window (W,) gives (1, V)). `output_layer="adaptive"` swaps the course's
    full softmax for an adaptive softmax (Grave et al. 2017); `model(inputs)` still returns full log-probs and
    `model.nll(inputs, targets)` is the (cheap) training loss for either choice. With `global_window` G > 0 the
    first block also reads the G words before the window (Sun and Iyyer 2021): inputs are (B, G+W), see
    `context_size`.
    """

    def __init__(self, vocab_size, embed_dim, local_window_size, hidden_dim, num_blocks, dropout_p,
                 output_layer="full", cutoffs=(2000, 10000), div_value=4.0, embed_dropout_p=0.0,
                 word_dropout_p=0.0, global_window=0, global_chunks=1, global_dropout_p=0.0):
        super().__init__()
        self.first_layer = NPLMFirstBlock(vocab_size, embed_dim, local_window_size, hidden_dim, dropout_p,
                                          embed_dropout_p, word_dropout_p, global_window, global_chunks,
                                          global_dropout_p)
        self.intermediate_layers = nn.ModuleList([NPLMBlock(hidden_dim, dropout_p) for _ in range(num_blocks)])
        if output_layer == "full":
            self.final_layer = NPLMFinalBlock(vocab_size, hidden_dim)
        elif output_layer == "adaptive":
            self.final_layer = NPLMAdaptiveFinalBlock(vocab_size, hidden_dim, cutoffs, div_value)
        else:
            raise ValueError(f"output_layer must be 'full' or 'adaptive', not {output_layer!r}")
        self.output_layer = output_layer
        self.model_kwargs = dict(
            vocab_size=vocab_size, embed_dim=embed_dim, local_window_size=local_window_size, hidden_dim=hidden_dim,
            num_blocks=num_blocks, dropout_p=dropout_p, output_layer=output_layer,
            cutoffs=list(getattr(self.final_layer, "cutoffs", cutoffs)), div_value=div_value,
            embed_dropout_p=embed_dropout_p, word_dropout_p=word_dropout_p, global_window=global_window,
            global_chunks=global_chunks, global_dropout_p=global_dropout_p,
        )
        self.context_size = self.first_layer.context_size  # token ids the model reads per prediction

    def features(self, inputs):
        hidden = self.first_layer(inputs)  # (B, H)
        for block in self.intermediate_layers:
            hidden = F.relu(block(hidden))  # (B, H)
        return hidden

    def forward(self, inputs):
        return self.final_layer(self.features(inputs))  # (B, V) log-probabilities

    def nll(self, inputs, targets, reduction="mean"):
        """Negative log-likelihood of the next tokens `targets` (B,) after the windows `inputs` (B, W)."""
        return self.final_layer.nll(self.features(inputs), targets, reduction=reduction)


def build_model(config, vocab_size: int) -> NPLM:
    return NPLM(
        vocab_size, cfg_get(config, "embed_dim"), cfg_get(config, "local_window_size"), cfg_get(config, "hidden_dim"),
        cfg_get(config, "num_blocks"), cfg_get(config, "dropout_p"), output_layer=cfg_get(config, "output_layer"),
        cutoffs=cfg_get(config, "cutoffs"), div_value=cfg_get(config, "div_value"),
        embed_dropout_p=cfg_get(config, "embed_dropout_p"), word_dropout_p=cfg_get(config, "word_dropout_p"),
        global_window=cfg_get(config, "global_window"), global_chunks=cfg_get(config, "global_chunks"),
        global_dropout_p=cfg_get(config, "global_dropout_p"),
    )


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def train_flops_per_token(model: NPLM, targets: torch.Tensor | None = None) -> dict:
    """Matrix-multiply FLOPs of one training token: 2 per multiply-add, x3 for forward + backward.

    The embedding lookup, tanh, LayerNorm and softmax are not counted (they are O(H) or O(V) per token, not
    O(H*V)). With an adaptive softmax every token pays for the head; a tail (projection + cluster matrix) only
    for the fraction of `targets` (the training stream) that falls in its cluster.
    """
    k = model.model_kwargs
    W, E, H, V = k["local_window_size"], k["embed_dim"], k["hidden_dim"], k["vocab_size"]
    chunks = k.get("global_chunks", 1) if k.get("global_window") else 0
    macs = {"first": (W + chunks) * E * H, "blocks": k["num_blocks"] * H * H}
    if model.output_layer == "full":
        macs["output"] = H * V
        fractions = {}
    else:
        asm = model.final_layer.adaptive
        macs["head"] = H * asm.head_size
        bounds = asm.cutoffs  # [c0, c1, ..., V]
        fractions = {}
        tail_macs = 0.0
        for i, tail in enumerate(asm.tail):
            lo, hi = bounds[i], bounds[i + 1]
            proj, out = tail[0], tail[1]
            if targets is not None and targets.numel():
                frac = ((targets >= lo) & (targets < hi)).double().mean().item()
            else:
                frac = 1.0
            fractions[f"{lo}-{hi}"] = frac
            tail_macs += frac * (proj.in_features * proj.out_features + out.in_features * out.out_features)
        macs["tails_expected"] = tail_macs
    forward = 2.0 * sum(macs.values())
    return {"train_flops_per_token": 3.0 * forward, "forward_flops_per_token": forward, "macs": macs,
            "tail_fractions": fractions}


# --------------------------------------------------------------------------- training
def _batch_loss(model, criterion, inp, target, reduction="mean"):
    """The batch's NLL: the model's own (adaptive) loss when it has one, else criterion(log_probs, target)."""
    if isinstance(getattr(model, "final_layer", None), NPLMAdaptiveFinalBlock) or criterion is None:
        return model.nll(inp, target, reduction=reduction)
    loss = criterion(model(inp), target)
    return loss * target.numel() if reduction == "sum" else loss


def make_checkpoint(model: NPLM, tokenizer: WordTokenizer | None = None, config=None, **extra) -> dict:
    """A self-contained checkpoint of plain Python values and tensors (loadable with weights_only=True)."""
    ckpt = {"format": CHECKPOINT_FORMAT, "model_kwargs": dict(model.model_kwargs), "state_dict": model.state_dict()}
    if tokenizer is not None:
        ckpt["tokenizer"] = tokenizer if isinstance(tokenizer, dict) else tokenizer.to_dict()
    if config is not None:
        ckpt["config"] = config if isinstance(config, dict) else config_to_dict(config)
    ckpt.update(extra)
    return ckpt


def load_checkpoint(path, map_location="cpu") -> tuple[NPLM, WordTokenizer, dict]:
    """(model in eval mode, tokenizer, checkpoint dict) from a checkpoint written by `train` / `make_checkpoint`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}; train one first with `python main.py lm`")
    ckpt = torch.load(path, map_location=map_location, weights_only=True)
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not an NPLM checkpoint of this package (format {CHECKPOINT_FORMAT})")
    model = NPLM(**ckpt["model_kwargs"])
    model.load_state_dict(ckpt["state_dict"])
    model.eval()
    return model, WordTokenizer.from_dict(ckpt["tokenizer"]), ckpt


class WeightAverage:
    """An exponential moving average of a model's parameters (Polyak and Juditsky 1992), updated every step.

    The average smooths out the noise of the last steps; it helps most while the learning rate is still high
    (see the README's language-model numbers). It costs one lerp per parameter tensor per step. `decay` is the
    weight of the past; the first steps use the smaller (1 + t) / (10 + t), so the average is not anchored at
    the random initialisation. `applied()` swaps the averaged weights into the model for evaluation or saving
    and puts the trained ones back afterwards.
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
          print_every=100, checkpoint_extra: dict | None = None, patience: int | None = None, log=print,
          ema_decay: float | None = None, extra_history: dict | None = None):
    """Train for num_epochs; keep the checkpoint with the best dev perplexity at `save_path` (atomically).

    The loaders yield (contexts (B, W), targets (B,)): a course DataLoader or a `WindowBatches`. The step uses
    the model's own loss when its output layer is adaptive (the exact NLL, cheaply), else criterion(log_probs,
    target). The scheduler steps every batch, as in the course. Per-epoch train loss / perplexity are token-
    weighted means over the epoch (perplexity = exp(mean loss)). `checkpoint_extra` (e.g. the tokenizer and
    config) is stored in the checkpoint; `patience` stops after that many epochs without improvement.
    With `ema_decay` the dev scores and the checkpoint are those of the averaged weights (`WeightAverage`); the
    last iterate's dev perplexity then goes to `extra_history["dev_ppl_last_iterate"]` when a dict is given.
    Returns (train losses, train ppls, dev losses, dev ppls), one value per epoch.
    """
    best_ppl, bad_epochs = math.inf, 0
    hist = ([], [], [], [])
    extra = dict(checkpoint_extra or {})
    average = WeightAverage(model, ema_decay) if ema_decay else None
    for epoch in range(num_epochs):
        model.train()
        log(f"{'-' * 10} Epoch {epoch}: Training {'-' * 10}")
        loss_sum = torch.zeros((), dtype=torch.float64)
        n_tokens = 0
        t0 = time.perf_counter()
        for idx, (inp, target) in enumerate(utils.progress(train_dataloader, desc=f"epoch {epoch}")):
            loss = _batch_loss(model, criterion, inp, target)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            if average is not None:
                average.update()
            loss_sum += loss.detach().double() * target.numel()  # no .item() per step
            n_tokens += target.numel()
            if print_every and idx % print_every == 0:
                lr = optimizer.param_groups[0]["lr"]
                rate = n_tokens / max(time.perf_counter() - t0, 1e-9)
                log(f"  iter {idx:6d}  loss {loss.item():.4f}  ppl {math.exp(min(loss.item(), 50)):9.2f}  "
                    f"lr {lr:.2e}  {rate:,.0f} tokens/s")
        train_loss = loss_sum.item() / max(n_tokens, 1)
        hist[0].append(train_loss)
        hist[1].append(math.exp(min(train_loss, 700)))
        log(f"{'-' * 10} Epoch {epoch}: Evaluation on Dev Set {'-' * 10}")
        if average is not None and extra_history is not None:
            _, last_ppl = evaluate(model, dev_dataloader, criterion)
            extra_history.setdefault("dev_ppl_last_iterate", []).append(last_ppl)
            log(f"Epoch {epoch}: dev ppl of the last iterate {last_ppl:.2f} (the average's follows)")
        scored = average.applied() if average is not None else contextlib.nullcontext()
        with scored:
            dev_loss, dev_ppl = evaluate(model, dev_dataloader, criterion)
        hist[2].append(dev_loss)
        hist[3].append(dev_ppl)
        log(f"Epoch {epoch}: train loss {train_loss:.4f} (ppl {hist[1][-1]:.2f}); dev loss {dev_loss:.4f}, "
            f"dev ppl {dev_ppl:.2f}; {time.perf_counter() - t0:.0f} s")
        if dev_ppl < best_ppl:
            log(f"{'-' * 10} Epoch {epoch}: best dev perplexity improved from {best_ppl:.2f} to {dev_ppl:.2f}, "
                f"saving the model to {save_path} {'-' * 10}")
            best_ppl, bad_epochs = dev_ppl, 0
            if save_path:
                with average.applied() if average is not None else contextlib.nullcontext():
                    ckpt = make_checkpoint(model, epoch=epoch, dev_loss=dev_loss, dev_ppl=dev_ppl, **extra)
                    ckpt["state_dict"] = {k: v.clone() for k, v in ckpt["state_dict"].items()}  # not the live weights
                utils.atomic_save(ckpt, save_path)
        else:
            bad_epochs += 1
            if patience is not None and bad_epochs >= patience:
                log(f"early stopping: no better dev perplexity for {patience} epochs")
                break
    return hist


def evaluate(model, eval_dataloader, criterion):
    """(mean loss per target token, perplexity = exp(mean loss)); batches are weighted by their size.

    Runs under torch.no_grad() in eval mode and restores the model's previous mode.
    """
    was_training = model.training
    model.eval()
    total = torch.zeros((), dtype=torch.float64)
    count = 0
    try:
        with torch.no_grad():
            for inp, target in eval_dataloader:
                total += _batch_loss(model, criterion, inp, target, reduction="sum").double()
                count += target.numel()
    finally:
        model.train(was_training)
    if count == 0:
        raise ValueError("evaluate: the evaluation data is empty")
    avg_loss = total.item() / count
    return avg_loss, math.exp(avg_loss)


# --------------------------------------------------------------------------- generation
def top_p_filter(log_probs: torch.Tensor, top_p: float) -> torch.Tensor:
    """Nucleus filtering (Holtzman et al. 2020): keep the smallest set of most likely tokens whose probability
    reaches top_p, set the rest to -inf. The most likely token is always kept; top_p >= 1 keeps everything.
    Works on log-probabilities or logits (B, V) or (V,).
    """
    if not 0.0 <= top_p <= 1.0:
        raise ValueError(f"top_p must be in [0, 1], got {top_p}")
    if top_p >= 1.0:
        return log_probs
    sorted_lp, order = torch.sort(log_probs, dim=-1, descending=True)  # (B, V)
    probs = F.softmax(sorted_lp, dim=-1)  # (B, V)
    mass_before = torch.cumsum(probs, dim=-1) - probs  # (B, V): probability of strictly more likely tokens
    drop_sorted = mass_before >= top_p  # (B, V); position 0 has mass_before 0, so it is kept unless top_p == 0
    drop_sorted[..., 0] = False
    drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)  # back to vocabulary order
    return log_probs.masked_fill(drop, float("-inf"))


def generate_text(prompt, model, tokenizer, local_window_size, top_p, max_len=30, generator=None, verbose=True):
    """Continue `prompt` by max_len tokens and return the text (also printed, as in the course).

    Greedy when top_p is None or 0, nucleus sampling with `top_p_filter` otherwise (seedable with `generator`).
    Prompts shorter than the window are padded with `<eos>`; unknown words map to the unknown token.
    """
    if top_p is not None and (isinstance(top_p, bool) or not 0.0 <= float(top_p) <= 1.0):
        raise ValueError(f"top_p must be None or in [0, 1], got {top_p!r}")
    if max_len < 0:
        raise ValueError(f"max_len must be >= 0, got {max_len}")
    ids = tokenizer.convert_tokens_to_ids(tokenizer.tokenize(prompt))
    pad_id = getattr(tokenizer, "pad_token_id", None)
    if pad_id is None:
        pad_id = tokenizer.convert_tokens_to_ids(getattr(tokenizer, "eos_token", "<eos>"))
    # A model with a global context also reads the G words before its local window; before the prompt there
    # are none (-1: left out of the far mean), while the local window is padded with <eos> as in training.
    W = int(local_window_size)
    G = max(0, getattr(model, "context_size", W) - W)
    context = [pad_id] * W + list(ids)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for _ in range(max_len):
                far = ([-1] * G + context[W:-W])[-G:] if G else []  # real words before the local window
                window = torch.tensor(far + context[-W:], dtype=torch.long)  # (G+W,)
                log_probs = model(window)  # (1, V)
                if top_p:
                    filtered = top_p_filter(log_probs, float(top_p))  # (1, V)
                    pred = torch.multinomial(filtered.softmax(-1), 1, generator=generator).item()
                else:
                    pred = int(torch.argmax(log_probs).item())
                context.append(pred)
    finally:
        model.train(was_training)
    tokens = tokenizer.convert_ids_to_tokens(context[W:])
    generation = tokenizer.convert_tokens_to_string(tokens)
    if verbose:
        print(f"Generated text: {generation}")
    return generation


# --------------------------------------------------------------------------- plots
def visualize_epochs(train_stats, dev_stats, stat_name, save_fig_path):
    """Train and dev curves of one statistic per epoch, drawn by utils.plot_curves."""
    return utils.plot_curves({"train": list(train_stats), "dev": list(dev_stats)}, ylabel=stat_name,
                             save_fig_path=save_fig_path, title=f"MLP language model: {stat_name}")


# --------------------------------------------------------------------------- runs
def _make_optimizer_and_scheduler(model, config, total_steps):
    optimizer = make_adamw(model, cfg_get(config, "lr"), cfg_get(config, "weight_decay"))
    warmup = max(0, int(cfg_get(config, "warmup_steps")))
    schedule = cfg_get(config, "schedule")
    if schedule == "exponential":
        return optimizer, torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=cfg_get(config, "decay"))

    def factor(step):
        if step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, total_steps - warmup))
        if schedule == "cosine":
            return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress))
        if schedule == "linear":
            return max(0.0, 1.0 - progress)
        if schedule == "constant":
            return 1.0
        raise ValueError(f"unknown schedule {schedule!r}")

    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _run(config, train_data, dev_data, log=print) -> dict:
    """Build the vocabulary, batches, model and optimizer from `config`; train; return every number."""
    seed = cfg_get(config, "seed")
    gen = utils.set_seed(seed)
    t_start = time.perf_counter()
    train_texts = _texts(train_data)
    tokenizer = WordTokenizer.from_texts(train_texts, min_count=cfg_get(config, "min_count"))
    log(f"{'-' * 10} Preprocess Data {'-' * 10}")
    train_stream = encode_stream(train_texts, tokenizer, cfg_get(config, "max_train_tokens"))
    dev_stream = encode_stream(dev_data, tokenizer, cfg_get(config, "max_dev_tokens"))
    log(f"vocabulary {tokenizer.vocab_size:,} words (train split only); train {train_stream.numel():,} tokens, "
        f"dev {dev_stream.numel():,} targets")
    model = build_model(config, tokenizer.vocab_size)
    W = model.context_size  # ids read per prediction: the window, plus the far words of a global context
    bs = cfg_get(config, "batch_size")
    train_batches = WindowBatches(train_stream, W, tokenizer.pad_token_id, bs, shuffle=True, generator=gen)
    dev_batches = WindowBatches(dev_stream, W, tokenizer.pad_token_id, cfg_get(config, "eval_batch_size"))
    n_params = count_parameters(model)
    log(f"{'-' * 10} Create Model: {n_params:,} parameters, {model.output_layer} softmax {'-' * 10}")
    epochs = cfg_get(config, "num_epochs")
    optimizer, scheduler = _make_optimizer_and_scheduler(model, config, epochs * len(train_batches))
    save_path = cfg_get(config, "save_path")
    t_train = time.perf_counter()
    extra_history: dict = {}
    hist = train(model, train_batches, dev_batches, nn.NLLLoss(), optimizer, scheduler, epochs, save_path,
                 print_every=cfg_get(config, "print_every"), patience=cfg_get(config, "patience"),
                 checkpoint_extra={"tokenizer": tokenizer.to_dict(), "config": config_to_dict(config)}, log=log,
                 ema_decay=cfg_get(config, "ema_decay"), extra_history=extra_history)
    train_seconds = time.perf_counter() - t_train
    best = int(np.argmin(hist[3]))
    return {
        "history": {"train_loss": hist[0], "train_ppl": hist[1], "dev_loss": hist[2], "dev_ppl": hist[3],
                    **extra_history},
        "best_epoch": best + 1, "best_dev_ppl": hist[3][best], "best_dev_loss": hist[2][best],
        "epochs_run": len(hist[0]), "parameters": n_params, "vocab_size": tokenizer.vocab_size,
        "train_tokens": train_stream.numel(), "dev_targets": dev_stream.numel(),
        "train_seconds": train_seconds, "train_tokens_per_second_incl_eval": len(hist[0]) * train_stream.numel()
        / train_seconds, "seconds_total": time.perf_counter() - t_start, "save_path": str(save_path),
        "flops": train_flops_per_token(model, train_stream),
        "_tokenizer": tokenizer, "_model": model,
    }


def run_mlp_lm(config, train_data, dev_data):
    """Train the model of `config` on train_data; returns (train losses, train ppls, dev losses, dev ppls)."""
    h = _run(config, train_data, dev_data)["history"]
    return h["train_loss"], h["train_ppl"], h["dev_loss"], h["dev_ppl"]


def sample_from_mlp_lm(config, dev_data, prompt=COURSE_PROMPT, top_ps=(None, 0.0, 0.3, 1.0), max_len=30):
    """Load the checkpoint at config.save_path, report dev perplexity (when dev_data is given) and print samples
    of the prompt: greedy, p=0.0 (the same as greedy), p=0.3 and p=1.0. Returns the numbers and samples."""
    model, tokenizer, ckpt = load_checkpoint(cfg_get(config, "save_path"))
    W = model.context_size
    out = {"checkpoint": str(cfg_get(config, "save_path")), "checkpoint_epoch": ckpt.get("epoch")}
    if dev_data is not None:
        print(f"{'-' * 10} Evaluate on the Dev Set {'-' * 10}")
        stream = encode_stream(dev_data, tokenizer)
        batches = WindowBatches(stream, W, tokenizer.pad_token_id, cfg_get(config, "eval_batch_size"))
        out["dev_loss"], out["dev_ppl"] = evaluate(model, batches, nn.NLLLoss())
        out["dev_targets"] = stream.numel()
        print(f"Dev Perplexity: {out['dev_ppl']:.2f}; Dev Loss: {out['dev_loss']:.4f} ({stream.numel():,} targets)")
    print(f"{'-' * 10} Sample From the Model {'-' * 10}")
    gen = torch.Generator().manual_seed(cfg_get(config, "seed"))
    samples = {}
    for p in top_ps:
        label = "greedy" if p is None else f"top_p={p}"
        print(f"{'-' * 10} {label} {'-' * 10}")
        samples[label] = generate_text(prompt, model, tokenizer, model.model_kwargs["local_window_size"], top_p=p,
                                       max_len=max_len, generator=gen)
    out["prompt"], out["samples"] = prompt, samples
    return out


# --------------------------------------------------------------------------- entry points (main.py)
def add_lm_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", choices=["default", "long"], default="default",
                        help="LM preset: default (< 20 min on 2 cores) or long (wider, more epochs)")
    parser.add_argument("--epochs", type=int, default=None, help="override the preset's number of epochs")
    parser.add_argument("--output-layer", choices=["adaptive", "full"], default=None,
                        help="adaptive softmax (default) or the course's full softmax")
    parser.add_argument("--window", type=int, default=None, help="override the local window size")
    parser.add_argument("--global-window", type=int, default=None,
                        help="override the number of far words averaged into a global context (0: none)")
    parser.add_argument("--ema-decay", type=float, default=None,
                        help="override the weight-average decay (0: score the last iterate)")
    parser.add_argument("--cache-size", type=int, default=None,
                        help="after training, also score the best checkpoint with a continuous cache of this many "
                             "past tokens (default 2000; 0: no cache)")


def add_cache_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", type=Path, default=None,
                        help="default: CKPT_DIR/mlp_lm.pt (CKPT_DIR/mlp_lm_quick.pt with --quick)")
    parser.add_argument("--cache-size", type=int, default=2000, help="past tokens in the cache (default 2000)")


def add_sample_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", type=Path, default=None, help="default: CKPT_DIR/mlp_lm.pt")
    parser.add_argument("--prompt", default=COURSE_PROMPT)
    parser.add_argument("--top-p", type=float, default=None,
                        help="sample once with this top_p instead of greedy, 0.3 and 1.0")
    parser.add_argument("--max-len", type=int, default=30)


def _args_get(args, name, default=None):
    value = getattr(args, name, default)
    return default if value is None else value


def main_lm(args) -> dict:
    """`python main.py lm`: train, keep the best checkpoint, plot loss/perplexity, sample, write a JSON."""
    quick = bool(_args_get(args, "quick", False))
    out_dir = Path(_args_get(args, "out_dir", "plots"))
    ckpt_dir = Path(_args_get(args, "ckpt_dir", "checkpoints"))
    name = "quick" if quick else _args_get(args, "config", "default")
    config = LMConfig.preset(
        name, num_epochs=_args_get(args, "epochs"), output_layer=_args_get(args, "output_layer"),
        seed=_args_get(args, "seed"), local_window_size=_args_get(args, "window"),
        global_window=_args_get(args, "global_window"), ema_decay=_args_get(args, "ema_decay"),
        cache_size=_args_get(args, "cache_size"),
        save_path=str(ckpt_dir / ("mlp_lm_quick.pt" if quick else "mlp_lm.pt" if name == "default" else f"mlp_lm_{name}.pt")),
    )
    utils.keep_freed_memory()
    with utils.torch_threads(cfg_get(config, "num_threads")):
        if _args_get(args, "device") not in (None, "cpu"):
            print(f"note: the language model trains on the CPU; --device {args.device} is ignored", file=sys.stderr)
        t0 = time.perf_counter()
        train_data, dev_data, test_data = load_data_mlp_lm(_args_get(args, "data_dir"),
                                                           splits=("train", "validation", "test"))
        result = _run(config, train_data, dev_data)
        result.pop("_tokenizer"), result.pop("_model")  # live objects, not for the JSON
        h = result["history"]
        suffix = "" if name == "default" else f"_{name}"
        loss_png = visualize_epochs(h["train_loss"], h["dev_loss"], "Loss (NLL per token)", out_dir / f"mlp_lm{suffix}_loss.png")
        ppl_png = visualize_epochs(h["train_ppl"], h["dev_ppl"], "Perplexity", out_dir / f"mlp_lm{suffix}_ppl.png")
        # Score the best checkpoint on the full dev and test splits (dev may have been cut in quick mode).
        best_model, tok, _ = load_checkpoint(config.save_path)
        W = best_model.context_size
        scores = {}
        for split, data in (("dev", dev_data), ("test", test_data)):
            stream = encode_stream(data, tok, config.max_dev_tokens if quick else None)
            loss, ppl = evaluate(best_model, WindowBatches(stream, W, tok.pad_token_id, config.eval_batch_size), nn.NLLLoss())
            scores[split] = {"loss": loss, "ppl": ppl, "targets": stream.numel()}
            print(f"best checkpoint: {split} perplexity {ppl:.2f} over {stream.numel():,} targets")
        cache = None
        if cfg_get(config, "cache_size"):
            cache = score_with_cache(best_model, tok, dev_data, test_data, config.cache_size, config.cache_thetas,
                                     config.cache_lambdas, config.eval_batch_size,
                                     max_tokens=config.max_dev_tokens if quick else None)
        sampled = sample_from_mlp_lm(config, None)
        report = {
            "config": config.to_dict(), **result, "best_checkpoint_scores": scores, "cache": cache,
            "samples": sampled["samples"], "prompt": sampled["prompt"],
            "plots": [str(loss_png), str(ppl_png)], "wall_seconds": time.perf_counter() - t0,
            "torch_threads": torch.get_num_threads(), "torch_version": torch.__version__,
        }
        json_path = utils.atomic_write_json(report, out_dir / f"mlp_lm{suffix}.json")
        print(f"best dev perplexity {result['best_dev_ppl']:.2f} (epoch {result['best_epoch']}); "
              f"wall time {report['wall_seconds']:.0f} s; wrote {loss_png}, {ppl_png}, {json_path}")
        return report


def main_sample(args) -> dict:
    """`python main.py sample`: load a checkpoint, report dev perplexity if the data is there, print samples."""
    ckpt_dir = Path(_args_get(args, "ckpt_dir", "checkpoints"))
    ckpt = _args_get(args, "checkpoint") or ckpt_dir / "mlp_lm.pt"
    config = LMConfig(save_path=str(ckpt), seed=_args_get(args, "seed", 42))
    try:
        (dev_data,) = load_data_mlp_lm(_args_get(args, "data_dir"), splits=("validation",))
    except utils.DataNotFoundError as err:
        print(f"note: no dev perplexity ({err})", file=sys.stderr)
        dev_data = None
    top_p = _args_get(args, "top_p")
    top_ps = (None, 0.3, 1.0) if top_p is None else (top_p,)
    utils.keep_freed_memory()
    with utils.torch_threads(cfg_get(config, "num_threads")):
        return sample_from_mlp_lm(config, dev_data, prompt=_args_get(args, "prompt", COURSE_PROMPT),
                                  top_ps=top_ps, max_len=_args_get(args, "max_len", 30))


def main_cache(args) -> dict:
    """`python main.py cache`: score a saved checkpoint with a continuous cache (theta and lambda chosen on dev,
    then the test split); writes OUT_DIR/<checkpoint name>_cache.json."""
    quick = bool(_args_get(args, "quick", False))
    ckpt_dir = Path(_args_get(args, "ckpt_dir", "checkpoints"))
    ckpt_path = Path(_args_get(args, "checkpoint") or ckpt_dir / ("mlp_lm_quick.pt" if quick else "mlp_lm.pt"))
    cache_size = _args_get(args, "cache_size", 2000)
    _check_cache_args(cache_size, _DEFAULTS.cache_thetas, _DEFAULTS.cache_lambdas)
    model, tokenizer, ckpt = load_checkpoint(ckpt_path)
    dev_data, test_data = load_data_mlp_lm(_args_get(args, "data_dir"), splits=("validation", "test"))
    utils.keep_freed_memory()
    with utils.torch_threads(_DEFAULTS.num_threads):
        result = score_with_cache(model, tokenizer, dev_data, test_data, cache_size,
                                  max_tokens=LMConfig.preset("quick").max_dev_tokens if quick else None)
    report = {"command": f"python main.py cache --checkpoint {ckpt_path} --cache-size {cache_size}"
              + (" --quick" if quick else ""), "checkpoint": str(ckpt_path),
              "checkpoint_epoch": ckpt.get("epoch"), "checkpoint_dev_ppl": ckpt.get("dev_ppl"), **result,
              "torch_threads": _DEFAULTS.num_threads, "torch_version": torch.__version__}
    path = utils.atomic_write_json(report, Path(_args_get(args, "out_dir", "plots")) / f"{ckpt_path.stem}_cache.json")
    print(f"wrote {path}")
    return report
