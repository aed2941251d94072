"""The kernel-pooled global context (`global_pool="kernel"`): each chunk of far words is a weighted
sum of their embeddings with one learned weight per position, checked against a direct loop in
float64, forward and backward."""

import pytest
import torch

import mlp_lm as M
from lm.config import LMRunConfig
from lm.train import build_model


def direct_kernel_pool(embeddings, kernel, far):
    """The chunk vectors by loops: for example b and chunk c, sum over the chunk's known words j of
    kernel[c, j] * E[far[b, c*L + j]] / (known words in the chunk); a chunk with none is zeros."""
    B, G = far.shape
    C, L = kernel.shape
    rows = []
    for b in range(B):
        chunks = []
        for c in range(C):
            known = [j for j in range(L) if far[b, c * L + j] >= 0]
            total = torch.zeros(embeddings.shape[1], dtype=embeddings.dtype)
            for j in known:
                total = total + kernel[c, j] * embeddings[far[b, c * L + j]]
            chunks.append(total / max(1, len(known)))
        rows.append(torch.cat(chunks))
    return torch.stack(rows)  # (B, C*E)


def kernel_block(seed=0):
    torch.manual_seed(seed)
    block = M.NPLMFirstBlock(
        30, 4, 3, 8, 0.0, global_window=6, global_chunks=2, global_pool="kernel"
    ).double()
    with torch.no_grad():  # a kernel away from its all-ones start
        block.global_kernel.copy_(torch.randn(2, 3, dtype=torch.float64))
    return block.eval()


def test_kernel_pooled_context_matches_a_direct_loop_forward_and_backward():
    block = kernel_block()
    far = torch.tensor([[1, 2, 3, 4, 5, 6], [-1, 7, 7, -1, -1, -1], [9, -1, 0, 29, 3, 3]])
    got = block.global_context(far)  # (B, C*E)
    weight = block.embeddings.weight.detach().clone().requires_grad_()
    kernel = block.global_kernel.detach().clone().requires_grad_()
    want = direct_kernel_pool(weight, kernel, far)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    probe = torch.randn_like(want)
    (got * probe).sum().backward()
    (want * probe).sum().backward()
    torch.testing.assert_close(block.global_kernel.grad, kernel.grad, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(block.embeddings.weight.grad, weight.grad, rtol=1e-10, atol=1e-12)


def test_the_kernel_starts_as_the_mean_and_the_mean_model_has_no_kernel():
    torch.manual_seed(0)
    mean = M.NPLMFirstBlock(30, 4, 3, 8, 0.0, global_window=6, global_chunks=2).double().eval()
    torch.manual_seed(0)
    kernel = M.NPLMFirstBlock(
        30, 4, 3, 8, 0.0, global_window=6, global_chunks=2, global_pool="kernel"
    )
    kernel = kernel.double().eval()
    far = torch.tensor([[1, 2, 3, 4, 5, 6], [-1, 7, 7, -1, -1, -1]])
    torch.testing.assert_close(kernel.global_context(far), mean.global_context(far))
    assert "global_kernel" not in mean.state_dict()
    assert kernel.state_dict()["global_kernel"].shape == (2, 3)
    course = build_model(LMRunConfig(), 50)
    assert not any("kernel" in name for name in course.state_dict())


def test_the_kernel_is_trained_and_changes_the_prediction():
    block = kernel_block(seed=1)
    far = torch.tensor([[1, 2, 3, 4, 5, 6]])
    near = torch.tensor([[7, 8, 9]])
    before = block(torch.cat([far, near], 1))
    with torch.no_grad():
        block.global_kernel[0, 1] += 1.0
    assert not torch.allclose(before, block(torch.cat([far, near], 1)))


def test_global_pool_is_validated_and_off_in_the_course_config():
    assert LMRunConfig().global_pool == "mean"
    assert LMRunConfig.preset("course").global_pool == "mean"
    with pytest.raises(ValueError, match="global_pool"):
        LMRunConfig(global_pool="max")
    with pytest.raises(ValueError, match="global_pool"):
        M.NPLMFirstBlock(20, 4, 3, 8, 0.0, global_window=6, global_pool="max")
