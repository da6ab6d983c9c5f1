"""Tensor attributes PyTorch programs read and write: data, stride, storage_offset,
detach_, cuda."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import check

import lazygrad as lg


def test_strides_and_offsets_follow_pytorchs_layout_of_views(device: str) -> None:
    x = lg.arange(12.0, device=device).reshape(3, 4)
    assert x.stride() == (4, 1) and x.stride(1) == 1 and x.stride(-2) == 4
    assert x.T.stride() == (1, 4) and x.T.storage_offset() == 0
    v = x[1:, ::2]
    assert v.stride() == (4, 2) and v.storage_offset() == 4
    assert lg.zeros(2, 3, 5, device=device).stride() == (15, 5, 1)
    assert x.expand(2, 3, 4).stride() == (0, 4, 1)


def test_writes_through_data_change_a_leaf_outside_autograd(device: str) -> None:
    p = lg.ones(3, device=device, requires_grad=True)
    p.data -= 0.5
    p.data[0] = 7.0
    check(p.detach(), np.float32([7, 0.5, 0.5]))
    assert p.requires_grad and p.is_leaf and p.grad_fn is None
    (p * 2).sum().backward()
    check(p.grad, np.full(3, 2.0, np.float32))
    p.data = lg.zeros(2, device=device)
    assert p.shape == (2,) and p.requires_grad
    check(p.detach(), np.zeros(2, np.float32))


def test_detach_in_place_and_cuda_alias(device: str) -> None:
    x = lg.ones(2, device=device, requires_grad=True)
    y = x * 2
    assert y.detach_() is y and not y.requires_grad and y.grad_fn is None
    check(y, np.full(2, 2.0, np.float32))
    if device != "cpu":
        assert lg.ones(2).cuda().device == lg.device("cuda")


def test_format_specs_work_on_0d_tensors_as_in_pytorch(device: str) -> None:
    loss = lg.tensor(1.23456, device=device)
    assert f"{loss:.2f}" == "1.23" and f"{lg.tensor(7, device=device):03d}" == "007"
    assert f"{lg.tensor([1.0, 2.0], device=device)}" == str(lg.tensor([1.0, 2.0], device=device))
    with pytest.raises(TypeError, match="unsupported format string"):
        f"{lg.tensor([1.5], device=device):.2f}"  # PyTorch formats 0-d tensors only
