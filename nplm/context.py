"""Our additions to the language model's first block: a global context and two input regularisers.

- the global context (Sun and Iyyer 2021, *Revisiting Simple Neural Probabilistic Language Models*):
  with `global_window` G > 0 the block also reads the G words before its window, inputs (B, G+W)
  with the far words first, and adds the mean embedding of each of `global_chunks` equal parts of
  them to the concatenation. A far id of -1 means "no word" (before a generation prompt) and is left
  out of the mean; for a `global_dropout_p` share of training examples every far word is hidden, so
  the model also learns to do without them;
- `global_pool` "kernel" (Sun and Iyyer's learned pooling of the far words, in its cheapest form):
  each chunk's mean becomes a weighted sum with one learned weight per far position, a 1-D kernel
  of length G/C per chunk, starting at the mean (all ones);
- `embed_dropout_p`: whole word types dropped from the lookups of a training batch (Gal and
  Ghahramani 2016, as AWD-LSTM does: a dropped word is unknown wherever it occurs in the batch);
- `input_dropout_p`: dropout on the concatenated context vectors.
`ContextAdditions` is mixed into mlp_lm.NPLMFirstBlock, whose forward calls its hooks; every one is
the identity, and draws no random number, when its setting is off (the course's block).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class ContextSettings:
    """The first block's additions (mlp_lm.NPLMFirstBlock's keyword arguments), all off by default:
    the course's block."""

    global_window: int = 0
    global_chunks: int = 1
    global_dropout_p: float = 0.0
    embed_dropout_p: float = 0.0
    input_dropout_p: float = 0.0
    global_pool: str = "mean"


class ContextAdditions:
    """The first block's hooks for our additions (a mixin of mlp_lm.NPLMFirstBlock, which holds
    `embeddings`, `local_window_size` and `embed_dim`)."""

    def init_additions(self, local_window_size, settings: ContextSettings) -> None:
        """Check `settings` and make their parts; sets context_size and global_chunks (0 without a
        global context)."""
        global_window, global_chunks = settings.global_window, settings.global_chunks
        global_pool = settings.global_pool
        if global_window < 0 or (
            global_window and (global_chunks < 1 or global_window % global_chunks)
        ):
            raise ValueError(
                f"global_window ({global_window}) must be >= 0 and split into global_chunks "
                f"({global_chunks}) equal parts"
            )
        if global_pool not in ("mean", "kernel"):
            raise ValueError(f"global_pool must be 'mean' or 'kernel', not {global_pool!r}")
        self.global_window = global_window
        self.global_chunks = global_chunks if global_window else 0
        if global_window and global_pool == "kernel":
            # (C, G/C) factors on the mean's weights; registered only when used, so that the
            # course's and the mean-pooled models keep their state_dicts
            chunk = global_window // global_chunks
            self.global_kernel = nn.Parameter(torch.ones(global_chunks, chunk))
        self.global_dropout_p = settings.global_dropout_p
        self.embed_dropout_p = settings.embed_dropout_p
        # token ids read per prediction
        self.context_size = global_window + local_window_size
        self.input_dropout = nn.Dropout(settings.input_dropout_p)

    def drop_word_types(self, inputs, embeds):
        """The window's embeddings (B, W, E) with the word types dropped for this batch zeroed
        (training with `embed_dropout_p` only; otherwise `embeds` itself)."""
        type_scale = self.word_type_scale(inputs.device)  # (V,) or None
        # (B, W, E)
        return embeds if type_scale is None else embeds * type_scale[inputs].unsqueeze(-1)

    def drop_inputs(self, embeds):
        """Dropout on the concatenation (B, (W+C)*E); skipped at 0, so that runs without it draw the
        same random numbers."""
        return self.input_dropout(embeds) if self.input_dropout.p > 0 else embeds

    def with_global_context(self, inputs):
        """(B, G+W) ids, far words first -> the concatenation with the far chunks' means, (B,
        (W+C)*E)."""
        inputs = inputs.reshape(-1, self.context_size)  # (B, G+W)
        # (B, G), (B, W)
        far, near = (
            inputs[:, : self.global_window],
            inputs[:, self.global_window :],
        )
        return self.context_vectors(near, far)  # (B, (W+C)*E)

    def word_type_scale(self, device):
        """Training with `embed_dropout_p` p: a (V,) factor per word type, 0 for dropped types and
        1/(1-p) for the rest (inverted dropout), drawn once per batch; None otherwise."""
        if not (self.training and self.embed_dropout_p > 0):
            return None
        V = self.embeddings.num_embeddings
        keep = torch.rand(V, device=device) >= self.embed_dropout_p  # (V,)
        return keep.to(self.embeddings.weight.dtype) / (1.0 - self.embed_dropout_p)  # (V,)

    def context_vectors(self, near, far):
        """The W local embeddings and the C chunk means, concatenated: (B, W), (B, G) ids -> (B,
        (W+C)*E).

        One `embedding_bag` computes both (a bag of one word per local position, a bag of G/C words
        per chunk, weighted 1/(known words in the chunk)), so the backward fills one (V, E)
        gradient, not two. Dropped word types (`embed_dropout_p`) get weight 0 in the same bags.
        """
        B, W, G, C, E = (
            near.shape[0],
            self.local_window_size,
            self.global_window,
            self.global_chunks,
            self.embed_dim,
        )
        dtype = self.embeddings.weight.dtype
        known = (far >= 0).reshape(B, C, G // C)  # (B, C, G/C)
        # (B, C, G/C); no word -> zeros
        far_weights = known.to(dtype) / known.sum(2, keepdim=True).clamp(min=1)
        kernel = getattr(self, "global_kernel", None)  # (C, G/C) with global_pool "kernel"
        if kernel is not None:
            far_weights = far_weights * kernel  # (B, C, G/C): a learned average
        if self.training and self.global_dropout_p > 0:
            keep = torch.rand(B, 1, 1, device=far.device) >= self.global_dropout_p  # (B, 1, 1)
            # not rescaled: zeros mean "no far words", as before a prompt
            far_weights = far_weights * keep
        near_weights = torch.ones(B, W, dtype=dtype, device=near.device)  # (B, W)
        ids = torch.cat([near, far.clamp(min=0)], dim=1).reshape(-1)  # (B*(W+G),)
        # (B*(W+G),)
        weights = torch.cat([near_weights, far_weights.reshape(B, G)], dim=1).reshape(-1)
        type_scale = self.word_type_scale(near.device)  # (V,) or None
        if type_scale is not None:
            weights = weights * type_scale[ids]  # (B*(W+G),)
        # (W+C,)
        starts = torch.cat([torch.arange(W), W + torch.arange(C) * (G // C)]).to(near.device)
        # (B*(W+C),)
        offsets = (torch.arange(B, device=near.device)[:, None] * (W + G) + starts).reshape(-1)
        # (B*(W+C), E)
        vectors = F.embedding_bag(
            ids, self.embeddings.weight, offsets, mode="sum", per_sample_weights=weights
        )
        return vectors.reshape(B, (W + C) * E)

    def global_context(self, far):
        """The far part of `context_vectors` alone: (B, G) ids -> (B, C*E), for inspection and
        tests."""
        far = far.reshape(-1, self.global_window)  # (B, G)
        # (B, W)
        near = torch.zeros(far.shape[0], self.local_window_size, dtype=far.dtype, device=far.device)
        # (B, C*E)
        return self.context_vectors(near, far)[:, self.local_window_size * self.embed_dim :]
