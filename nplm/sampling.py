"""Nucleus sampling's filter for mlp_lm.generate_text (Holtzman, Buys, Du, Forbes and Choi. 2020.
*The Curious Case of Neural Text Degeneration.* ICLR)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


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
    # (B, V): probability of the strictly more likely tokens
    mass_before = torch.cumsum(probs, dim=-1) - probs
    drop_sorted = mass_before >= top_p  # (B, V)
    drop_sorted[..., 0] = False
    drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)  # back to vocabulary order
    return log_probs.masked_fill(drop, float("-inf"))
