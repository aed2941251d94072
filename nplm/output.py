"""Our output layers for the language model: an adaptive softmax, and word vectors tied to the input
embeddings.

- `NPLMAdaptiveFinalBlock`: an adaptive softmax (Grave, Joulin, Cisse, Grangier and Jegou 2017,
  *Efficient softmax approximation for GPUs*): a head over the frequent words and one token per
  cluster of rarer words, each cluster a smaller tail; far cheaper per token than the course's full
  softmax (docs/results.md: the benchmark).
- `TiedOutput`, `TiedHead`, `TiedAdaptiveLogSoftmax`: the output word vectors are the input
  embeddings (Press and Wolf 2017; Inan, Khosravi and Socher 2017), the adaptive softmax's through
  one projection per cluster (Baevski and Auli 2019).
mlp_lm.NPLM builds them from its `output_layer` and `tie_embeddings` arguments; every one keeps the
interface of the course's `NPLMFinalBlock` (`forward` gives (B, V) log-probabilities, `nll`,
`target_log_prob`).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import List, Optional

import torch
import torch.nn as nn

from nplm.kernels import adaptive_nll

# the adaptive softmax's cluster bounds: Grave et al. (2017)'s for a vocabulary of WikiText's size,
# and the values a config's `cutoffs` setting allows (common/settings.py)
DEFAULT_CUTOFFS = [1022, 9982]
CUTOFFS = dict(
    kind=int,
    low=1,
    list_rule=lambda bounds: list(bounds) == sorted(set(bounds)),
    expected_text="increasing whole numbers > 0",
)


@dataclass
class OutputSettings:
    """mlp_lm.NPLM's output layer: "full" (the course's softmax) or "adaptive" (its `cutoffs` and
    `div_value`), its word vectors tied to the input embeddings or not. The defaults are the
    course's."""

    output_layer: str = "full"
    cutoffs: List[int] = field(default_factory=lambda: list(DEFAULT_CUTOFFS))
    div_value: float = 4.0
    tie_embeddings: bool = False


class TiedOutput(nn.Module):
    """Logits over the words lo..hi-1 whose output vectors are rows of an input embedding table: (B,
    H) -> (B, hi - lo), through a projection H -> E (none when H == E and `project` is False).

    The table is the first block's `nn.Embedding`, held outside this module's registry (its
    parameter belongs to the first block, once in the state_dict and once in the optimiser) and read
    at call time, so that moving the model to a device, loading a state_dict or averaging weights
    reaches it through the first block.
    """

    def __init__(self, hidden_dim, embedding: nn.Embedding, lo, hi, project=None):
        super().__init__()
        self._embedding = [embedding]  # a list: not registered as a submodule
        self.lo, self.hi = lo, hi
        # this layer's rows of the table while `TiedAdaptiveLogSoftmax.sharing_rows` holds them
        self.rows: Optional[torch.Tensor] = None
        E = embedding.embedding_dim
        self.proj = nn.Linear(hidden_dim, E, bias=False) if (project or hidden_dim != E) else None
        self.in_features, self.out_features = hidden_dim, hi - lo

    def forward(self, inputs):
        z = self.proj(inputs) if self.proj is not None else inputs  # (B, E)
        rows = self.rows if self.rows is not None else self._embedding[0].weight[self.lo : self.hi]
        return nn.functional.linear(z, rows)  # (B, hi - lo)

    def macs(self) -> int:
        E = self._embedding[0].embedding_dim
        return (self.in_features * E if self.proj is not None else 0) + E * self.out_features


class TiedHead(nn.Module):
    """The adaptive softmax's head with tied word vectors: the shortlist's logits through
    `TiedOutput` (a projection, as Baevski and Auli 2019 tie a head), the clusters' tokens through
    their own small linear map: (B, H) -> (B, shortlist + clusters), the stock head's layout."""

    def __init__(self, hidden_dim, embedding, shortlist_size, n_clusters):
        super().__init__()
        self.words = TiedOutput(hidden_dim, embedding, 0, shortlist_size, project=True)
        self.clusters = nn.Linear(hidden_dim, n_clusters, bias=False)
        self.in_features, self.out_features = hidden_dim, shortlist_size + n_clusters

    def forward(self, inputs):
        # (B, shortlist + clusters)
        return torch.cat([self.words(inputs), self.clusters(inputs)], dim=1)

    def macs(self) -> int:
        return self.words.macs() + self.clusters.in_features * self.clusters.out_features


class TiedAdaptiveLogSoftmax(nn.AdaptiveLogSoftmaxWithLoss):
    """`nn.AdaptiveLogSoftmaxWithLoss` whose word vectors are the rows of the input embedding table.
    The head and every tail keep the stock interfaces (`head(x)`, `tail[i](x)` give logits), so the
    stock `forward`, `log_prob` and `predict`, and nplm/kernels.adaptive_nll, work unchanged. A tail
    projects H -> E and scores its cluster's rows of the table: the untied tail's own shape where
    its width H / div_value**(i+1) is E (tied directly), a wider projection where it is not."""

    def __init__(self, hidden_dim, vocab_size, cutoffs, div_value, embedding: nn.Embedding):
        super().__init__(hidden_dim, vocab_size, cutoffs, div_value=div_value)
        bounds = self.cutoffs  # [c0, ..., V]
        self.head = TiedHead(hidden_dim, embedding, self.shortlist_size, self.n_clusters)
        self.tail = nn.ModuleList(
            [
                TiedOutput(hidden_dim, embedding, bounds[i], bounds[i + 1], project=True)
                for i in range(self.n_clusters)
            ]
        )

    @contextlib.contextmanager
    def sharing_rows(self):
        """Within the block, the head and the tails read their rows of the table from one `split`.

        Each layer slicing the table itself costs its backward a zero-filled (V, E) gradient and
        one more (V, E) sum per layer; one split's backward writes the table's gradient once. The
        rows are disjoint, so each entry of the gradient is the same one sum, bit for bit."""
        layers = [self.head.words, *self.tail]
        table = layers[0]._embedding[0].weight
        sizes = [layer.hi - layer.lo for layer in layers]
        for layer, rows in zip(layers, table.split(sizes)):
            layer.rows = rows
        try:
            yield
        finally:
            for layer in layers:
                layer.rows = None


class NPLMAdaptiveFinalBlock(nn.Module):
    """An adaptive softmax output layer (Grave et al. 2017): a head over the frequent words and one
    token per cluster of rarer words, each cluster a smaller tail (ids are frequency ranks, as
    WordTokenizer gives).

    `forward` gives the full log-probabilities (B, V), for scoring and generation; `nll` evaluates a
    tail only for the targets that fall in it: the same distribution's exact loss, at a fraction of
    the cost. With `tie_to`, the word vectors are the input embeddings (`TiedAdaptiveLogSoftmax`).
    """

    def __init__(self, vocab_size, hidden_dim, cutoffs=(1022, 9982), div_value=4.0, tie_to=None):
        super().__init__()
        # a small test vocabulary keeps the cutoffs below it, or one in the middle
        self.cutoffs = sorted({int(c) for c in cutoffs if 0 < int(c) < vocab_size - 1}) or [
            max(1, vocab_size // 2)
        ]
        if tie_to is None:
            self.adaptive = nn.AdaptiveLogSoftmaxWithLoss(
                hidden_dim, vocab_size, self.cutoffs, div_value=div_value
            )
        else:  # word vectors shared with the input embeddings
            self.adaptive = TiedAdaptiveLogSoftmax(
                hidden_dim, vocab_size, self.cutoffs, div_value, tie_to
            )

    def forward(self, inputs):
        return self.adaptive.log_prob(inputs)  # (B, V)

    def nll(self, inputs, targets, reduction="mean"):
        sharing = getattr(self.adaptive, "sharing_rows", contextlib.nullcontext)
        with sharing():
            return adaptive_nll(self.adaptive, inputs, targets, reduction=reduction)

    def target_log_prob(self, inputs, targets):
        return self.adaptive(inputs, targets).output  # (B,)
