"""User errors raise PyTorch's exception class and wording when the op is recorded.

Each case builds its operands, then runs the failing op with realization disabled (so an
error that would only surface at realize shows up as a failure here), and afterwards checks
that the operands still hold their values.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from conftest import check, opencl_ready

import lazygrad as lg

# `lazygrad.engine.realize` the attribute is the function; the module is this one.
REALIZE_MODULE = importlib.import_module("lazygrad.engine.realize")


def _refuse_to_run(*args: Any, **kwargs: Any) -> None:
    raise AssertionError("a kernel ran while recording an op that should fail")


def a23(device: str) -> lg.Tensor:
    return lg.tensor(np.arange(6.0, dtype=np.float32).reshape(2, 3), device=device)


A23 = np.arange(6.0, dtype=np.float32).reshape(2, 3)


# (id, make operands, failing op, exception class, exact message)
CASES: list[tuple[str, Callable, Callable, type, str]] = [
    (
        "broadcast",
        lambda d: (a23(d), lg.zeros(3, 2, device=d)),
        lambda a, b: a + b,
        RuntimeError,
        "The size of tensor a (3) must match the size of tensor b (2) at non-singleton dimension 1",
    ),
    (
        "broadcast_1d",
        lambda d: (lg.zeros(3, device=d), lg.zeros(4, device=d)),
        lambda a, b: a * b,
        RuntimeError,
        "The size of tensor a (3) must match the size of tensor b (4) at non-singleton dimension 0",
    ),
    (
        "broadcast_where",
        lambda d: (lg.zeros(3, dtype=lg.bool, device=d), lg.zeros(2, device=d)),
        lambda c, x: lg.where(c, x, 1.0),
        RuntimeError,
        "The size of tensor a (3) must match the size of tensor b (2) at non-singleton dimension 0",
    ),
    (
        "reshape",
        lambda d: (a23(d),),
        lambda a: a.reshape(4, 2),
        RuntimeError,
        "shape '[4, 2]' is invalid for input of size 6",
    ),
    (
        "view",
        lambda d: (a23(d),),
        lambda a: a.view(-1, 4),
        RuntimeError,
        "shape '[-1, 4]' is invalid for input of size 6",
    ),
    (
        "reshape_two_inferred",
        lambda d: (a23(d),),
        lambda a: a.reshape(-1, -1),
        RuntimeError,
        "only one dimension can be inferred",
    ),
    (
        "expand",
        lambda d: (a23(d),),
        lambda a: a.expand(3, 3),
        RuntimeError,
        "The expanded size of the tensor (3) must match the existing size (2) at non-singleton "
        "dimension 0.  Target sizes: [3, 3].  Tensor sizes: [2, 3]",
    ),
    (
        "expand_too_few",
        lambda d: (a23(d),),
        lambda a: a.expand(3),
        RuntimeError,
        "expand(lazygrad.FloatTensor{[2, 3]}, size=[3]): the number of sizes provided (1) must be "
        "greater or equal to the number of dimensions in the tensor (2)",
    ),
    (
        "permute_duplicate",
        lambda d: (a23(d),),
        lambda a: a.permute(0, 0),
        RuntimeError,
        "permute(): duplicate dims are not allowed.",
    ),
    (
        "matmul",
        lambda d: (lg.zeros(2, 3, device=d), lg.zeros(4, 5, device=d)),
        lambda a, b: a @ b,
        RuntimeError,
        "mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)",
    ),
    (
        "matmul_vector",
        lambda d: (lg.zeros(2, 3, device=d), lg.zeros(4, device=d)),
        lambda a, b: a @ b,
        RuntimeError,
        "size mismatch, got input (2), mat (2x3), vec (4)",
    ),
    (
        "matmul_dot",
        lambda d: (lg.zeros(3, device=d), lg.zeros(4, device=d)),
        lambda a, b: a @ b,
        RuntimeError,
        "inconsistent tensor size, expected tensor [3] and src "
        "[4] to have the same number of elements, but got 3 and "
        "4 elements respectively",
    ),
    (
        "matmul_batched",
        lambda d: (lg.zeros(2, 2, 3, device=d), lg.zeros(2, 4, 2, device=d)),
        lambda a, b: a @ b,
        RuntimeError,
        "Expected size for first two dimensions of batch2 tensor to be: [2, 3] but got: [2, 4].",
    ),
    (
        "matmul_folded",
        lambda d: (lg.zeros(2, 2, 3, device=d), lg.zeros(4, 2, device=d)),
        lambda a, b: a @ b,
        RuntimeError,
        "mat1 and mat2 shapes cannot be multiplied (4x3 and 4x2)",
    ),
    (
        "matmul_batch_broadcast",
        lambda d: (lg.zeros(2, 2, 3, device=d), lg.zeros(3, 3, 2, device=d)),
        lambda a, b: a @ b,
        RuntimeError,
        "The size of tensor a (2) must match the size of tensor b (3) at non-singleton dimension 0",
    ),
    (
        "matmul_dtypes",
        lambda d: (lg.zeros(2, 3, dtype=lg.int64, device=d), lg.zeros(3, 2, device=d)),
        lambda a, b: a @ b,
        RuntimeError,
        "expected m1 and m2 to have the same dtype, but got: long int != float",
    ),
    (
        "matmul_0d",
        lambda d: (lg.zeros(2, device=d), lg.tensor(1.0, device=d)),
        lambda a, b: lg.matmul(a, b),
        RuntimeError,
        "both arguments to matmul need to be at least 1D, but they are 1D and 0D",
    ),
    (
        "mm_vector",
        lambda d: (lg.zeros(2, 3, device=d), lg.zeros(3, device=d)),
        lambda a, b: a.mm(b),
        RuntimeError,
        "mat2 must be a matrix",
    ),
    (
        "dim_sum",
        lambda d: (a23(d),),
        lambda a: a.sum(2),
        IndexError,
        "Dimension out of range (expected to be in range of [-2, 1], but got 2)",
    ),
    (
        "dim_softmax",
        lambda d: (a23(d),),
        lambda a: a.softmax(-3),
        IndexError,
        "Dimension out of range (expected to be in range of [-2, 1], but got -3)",
    ),
    (
        "dim_transpose",
        lambda d: (a23(d),),
        lambda a: a.transpose(2, 0),
        IndexError,
        "Dimension out of range (expected to be in range of [-2, 1], but got 2)",
    ),
    (
        "dim_unsqueeze",
        lambda d: (a23(d),),
        lambda a: a.unsqueeze(3),
        IndexError,
        "Dimension out of range (expected to be in range of [-3, 2], but got 3)",
    ),
    (
        "dim_size",
        lambda d: (a23(d),),
        lambda a: a.size(2),
        IndexError,
        "Dimension out of range (expected to be in range of [-2, 1], but got 2)",
    ),
    (
        "dim_max",
        lambda d: (a23(d),),
        lambda a: a.max(2),
        IndexError,
        "Dimension out of range (expected to be in range of [-2, 1], but got 2)",
    ),
    (
        "dim_mean",
        lambda d: (a23(d),),
        lambda a: a.mean(-3),
        IndexError,
        "Dimension out of range (expected to be in range of [-2, 1], but got -3)",
    ),
    (
        "dim_flatten",
        lambda d: (a23(d),),
        lambda a: a.flatten(0, 2),
        IndexError,
        "Dimension out of range (expected to be in range of [-2, 1], but got 2)",
    ),
    (
        "dim_cat",
        lambda d: (a23(d),),
        lambda a: lg.cat([a, a], 2),
        IndexError,
        "Dimension out of range (expected to be in range of [-2, 1], but got 2)",
    ),
    (
        "dim_stack",
        lambda d: (a23(d),),
        lambda a: lg.stack([a, a], 3),
        IndexError,
        "Dimension out of range (expected to be in range of [-3, 2], but got 3)",
    ),
    (
        "dim_0d",
        lambda d: (lg.tensor(5, device=d),),
        lambda a: a.sum(1),
        IndexError,
        "Dimension out of range (expected to be in range of [-1, 0], but got 1)",
    ),
    (
        "dim_repeated",
        lambda d: (a23(d),),
        lambda a: a.sum((0, -2)),
        RuntimeError,
        "dim 0 appears multiple times in the list of dims",
    ),
    (
        "item",
        lambda d: (a23(d),),
        lambda a: a.item(),
        RuntimeError,
        "a Tensor with 6 elements cannot be converted to Scalar",
    ),
    (
        "item_empty",
        lambda d: (lg.zeros(0, device=d),),
        lambda a: a.item(),
        RuntimeError,
        "a Tensor with 0 elements cannot be converted to Scalar",
    ),
    (
        "bool_many",
        lambda d: (a23(d),),
        lambda a: bool(a),
        RuntimeError,
        "Boolean value of Tensor with more than one value is ambiguous",
    ),
    ("dtype_name", lambda d: (), lambda: lg.zeros(2, dtype="foo"), TypeError, None),
    ("dtype_number", lambda d: (), lambda: lg.zeros(2, dtype=3), TypeError, None),
    ("dtype_to", lambda d: (a23(d),), lambda a: a.to(dtype=np.complex64), TypeError, None),
    ("dtype_numpy", lambda d: (), lambda: lg.tensor(np.array([1 + 2j])), TypeError, None),
    (
        "index_bounds",
        lambda d: (a23(d),),
        lambda a: a[2],
        IndexError,
        "index 2 is out of bounds for dimension 0 with size 2",
    ),
    (
        "index_bounds_dim1",
        lambda d: (a23(d),),
        lambda a: a[:, 3],
        IndexError,
        "index 3 is out of bounds for dimension 1 with size 3",
    ),
    (
        "index_negative",
        lambda d: (a23(d),),
        lambda a: a[-3],
        IndexError,
        "index -3 is out of bounds for dimension 0 with size 2",
    ),
    (
        "index_tensor",
        lambda d: (a23(d),),
        lambda a: a[lg.tensor([0, 2])],
        IndexError,
        "index 2 is out of bounds for dimension 0 with size 2",
    ),
    (
        "index_too_many",
        lambda d: (a23(d),),
        lambda a: a[0, 0, 0],
        IndexError,
        "too many indices for tensor of dimension 2",
    ),
    (
        "index_float",
        lambda d: (a23(d),),
        lambda a: a[1.5],
        IndexError,
        "only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables are valid "
        "indices (got float)",
    ),
    (
        "index_float_tensor",
        lambda d: (a23(d),),
        lambda a: a[lg.tensor([0.0])],
        IndexError,
        "tensors used as indices must be long, int, byte or bool tensors",
    ),
    (
        "index_mask_shape",
        lambda d: (a23(d),),
        lambda a: a[lg.tensor([True, False, True])],
        IndexError,
        "The shape of the mask [3] at index 0 does not match the shape of the indexed "
        "tensor [2, 3] at index 0",
    ),
    (
        "index_broadcast",
        lambda d: (a23(d),),
        lambda a: a[[0, 1], [0, 1, 2]],
        IndexError,
        "shape mismatch: indexing tensors could not be broadcast together with shapes [2], [3]",
    ),
    (
        "index_step",
        lambda d: (a23(d),),
        lambda a: a[::-1],
        ValueError,
        "step must be greater than zero",
    ),
    (
        "index_0d",
        lambda d: (lg.tensor(5, device=d),),
        lambda a: a[0],
        IndexError,
        "invalid index of a 0-dim tensor. Use `tensor.item()` in Python or `tensor.item<T>()` in "
        "C++ to convert a 0-dim tensor to a number",
    ),
    (
        "setitem_shape",
        lambda d: (a23(d), lg.zeros(2, device=d)),
        lambda a, v: a.__setitem__((slice(None), 1), lg.zeros(3, device=a.device)),
        RuntimeError,
        "The expanded size of the tensor (2) must match the existing size (3) at non-singleton "
        "dimension 0.  Target sizes: [2].  Tensor sizes: [3]",
    ),
    (
        "setitem_advanced_shape",
        lambda d: (a23(d),),
        lambda a: a.__setitem__([0, 1], lg.zeros(3, 2, device=a.device)),
        RuntimeError,
        "shape mismatch: value tensor of shape [3, 2] cannot be broadcast to indexing result of "
        "shape [2, 3]",
    ),
    (
        "setitem_type",
        lambda d: (a23(d),),
        lambda a: a.__setitem__(0, "x"),
        TypeError,
        "can't assign a str to a lazygrad.FloatTensor",
    ),
    (
        "cat_sizes",
        lambda d: (a23(d), lg.zeros(3, 2, device=d)),
        lambda a, b: lg.cat([a, b]),
        RuntimeError,
        "Sizes of tensors must match except in dimension 0. Expected size 3 but got "
        "size 2 for tensor number 1 in the list.",
    ),
    (
        "cat_0d",
        lambda d: (lg.tensor(1.0, device=d),),
        lambda a: lg.cat([a, a]),
        RuntimeError,
        "zero-dimensional tensor (at position 0) cannot be concatenated",
    ),
    (
        "cat_empty",
        lambda d: (),
        lambda: lg.cat([]),
        ValueError,
        "torch.cat(): expected a non-empty list of Tensors",
    ),
    (
        "stack_sizes",
        lambda d: (lg.zeros(2, device=d), lg.zeros(3, device=d)),
        lambda a, b: lg.stack([a, b]),
        RuntimeError,
        "stack expects each tensor to be equal size, but got [2] at entry 0 and [3] at entry 1",
    ),
    (
        "split_zero",
        lambda d: (a23(d),),
        lambda a: a.split(0),
        RuntimeError,
        "split_size can only be 0 if dimension size is 0, but got dimension size of 2",
    ),
    (
        "split_sections",
        lambda d: (a23(d),),
        lambda a: a.split([1, 2]),
        RuntimeError,
        "split_with_sizes expects split_sizes to sum exactly to 2 (input tensor's size at "
        "dimension 0), but got split_sizes=[1, 2]",
    ),
    (
        "chunk_zero",
        lambda d: (a23(d),),
        lambda a: a.chunk(0),
        RuntimeError,
        "chunk expects `chunks` to be greater than 0, got: 0",
    ),
    (
        "mean_int",
        lambda d: (lg.tensor([1, 2], device=d),),
        lambda a: a.mean(),
        RuntimeError,
        "mean(): could not infer output dtype. Input dtype must be either a floating point or "
        "complex dtype. Got: Long",
    ),
    (
        "var_int",
        lambda d: (lg.tensor([1, 2], device=d),),
        lambda a: a.var(),
        RuntimeError,
        "std and var only support floating point and complex dtypes",
    ),
    (
        "max_empty",
        lambda d: (lg.zeros(0, device=d),),
        lambda a: a.max(),
        RuntimeError,
        "max(): Expected reduction dim to be specified for input.numel() == 0. Specify the "
        "reduction dim with the 'dim' argument.",
    ),
    (
        "argmax_empty_dim",
        lambda d: (lg.zeros(2, 0, device=d),),
        lambda a: a.argmax(1),
        IndexError,
        "argmax(): Expected reduction dim 1 to have non-zero size.",
    ),
    (
        "argmax_bool",
        lambda d: (lg.tensor([True], device=d),),
        lambda a: a.argmax(),
        RuntimeError,
        "argmax(): does not support bool input",
    ),
    (
        "softmax_int",
        lambda d: (lg.tensor([1, 2], device=d),),
        lambda a: a.softmax(0),
        NotImplementedError,
        "\"softmax_lastdim_kernel_impl\" not implemented for 'Long'",
    ),
    (
        "sub_bool",
        lambda d: (lg.tensor([True], device=d),),
        lambda a: a - a,
        RuntimeError,
        "Subtraction, the `-` operator, with two bool tensors is not supported. Use the `^` or "
        "`logical_xor()` operator instead.",
    ),
    (
        "sub_bool_number",
        lambda d: (lg.tensor([True], device=d),),
        lambda a: a - 1,
        RuntimeError,
        "Subtraction, the `-` operator, with a bool tensor is not supported. If you "
        "are trying to invert a mask, use the `~` or `logical_not()` operator "
        "instead.",
    ),
    (
        "neg_bool",
        lambda d: (lg.tensor([True], device=d),),
        lambda a: -a,
        RuntimeError,
        "Negation, the `-` operator, on a bool tensor is not supported. If you are trying to "
        "invert a mask, use the `~` or `logical_not()` operator instead.",
    ),
    (
        "abs_bool",
        lambda d: (lg.tensor([True], device=d),),
        lambda a: a.abs(),
        NotImplementedError,
        "\"abs_cpu\" not implemented for 'Bool'",
    ),
    (
        "relu_bool",
        lambda d: (lg.tensor([True], device=d),),
        lambda a: a.relu(),
        RuntimeError,
        "Boolean inputs not supported for relu",
    ),
    (
        "floordiv_bool",
        lambda d: (lg.tensor([True], device=d),),
        lambda a: a // a,
        NotImplementedError,
        "\"div_floor_cpu\" not implemented for 'Bool'",
    ),
    (
        "invert_float",
        lambda d: (lg.tensor([1.5], device=d),),
        lambda a: ~a,
        TypeError,
        "~ (operator.invert) is only implemented on integer and Boolean-type tensors",
    ),
    (
        "and_float",
        lambda d: (lg.tensor([1.5], device=d),),
        lambda a: a & a,
        NotImplementedError,
        "\"bitwise_and_cpu\" not implemented for 'Float'",
    ),
    (
        "floordiv_zero",
        lambda d: (lg.tensor([1, 2], device=d),),
        lambda a: a // 0,
        RuntimeError,
        "ZeroDivisionError",
    ),
    (
        "mod_zero_tensor",
        lambda d: (lg.tensor([1, 2], device=d), lg.tensor([1, 0], device=d)),
        lambda a, b: a % b,
        RuntimeError,
        "ZeroDivisionError",
    ),
    (
        "pow_negative_int",
        lambda d: (lg.tensor([1, 2], device=d),),
        lambda a: a**-1,
        RuntimeError,
        "Integers to negative integer powers are not allowed.",
    ),
    (
        "where_condition",
        lambda d: (lg.tensor([1.0], device=d),),
        lambda a: lg.where(a, 1, 2),
        RuntimeError,
        "where expected condition to be a boolean tensor, but got a tensor with dtype Float",
    ),
    (
        "add_alpha",
        lambda d: (lg.tensor([1, 2], device=d),),
        lambda a: a.add(1, alpha=0.5),
        RuntimeError,
        "For integral input tensors, argument alpha must not be a floating point number.",
    ),
    (
        "operand_type",
        lambda d: (a23(d),),
        lambda a: a + "a",
        TypeError,
        "unsupported operand type(s) for +: 'Tensor' and 'str'",
    ),
    (
        "operand_list",
        lambda d: (a23(d),),
        lambda a: a * [1, 2, 3],
        TypeError,
        "only integer tensors of a single element can be converted to an index",
    ),
    (
        "operand_none",
        lambda d: (a23(d),),
        lambda a: a - None,
        TypeError,
        "unsupported operand type(s) for -: 'Tensor' and 'NoneType'",
    ),
    (
        "in_place_leaf",
        lambda d: (lg.zeros(3, requires_grad=True, device=d),),
        lambda a: a.add_(1),
        RuntimeError,
        "a leaf Variable that requires grad is being used in an in-place operation.",
    ),
    (
        "in_place_view_of_leaf",
        lambda d: (lg.zeros(3, requires_grad=True, device=d),),
        lambda a: a[0:2].add_(1),
        RuntimeError,
        "a view of a leaf Variable that requires grad is being used in an in-place operation.",
    ),
    (
        "in_place_result_type",
        lambda d: (lg.tensor([1, 2], device=d),),
        lambda a: a.add_(1.5),
        RuntimeError,
        "result type Float can't be cast to the desired output type Long",
    ),
    (
        "in_place_shape",
        lambda d: (lg.zeros(2, device=d),),
        lambda a: a.add_(lg.zeros(2, 2, device=a.device)),
        RuntimeError,
        "output with shape [2] doesn't match the broadcast shape [2, 2]",
    ),
    (
        "in_place_overlap",
        lambda d: (lg.zeros(3, 1, device=d),),
        lambda a: a.expand(3, 4).add_(1),
        RuntimeError,
        "unsupported operation: more than one element of the written-to tensor refers "
        "to a single memory location. Please clone() the tensor before performing "
        "the operation.",
    ),
    (
        "fill_tensor",
        lambda d: (lg.zeros(2, device=d),),
        lambda a: a.fill_(lg.zeros(2, device=a.device)),
        RuntimeError,
        "fill_ only supports 0-dimension value tensor but got tensor with 1 dimensions.",
    ),
    (
        "requires_grad_int",
        lambda d: (),
        lambda: lg.tensor([1, 2], requires_grad=True),
        RuntimeError,
        "Only Tensors of floating point and complex dtype can require gradients",
    ),
    (
        "numpy_requires_grad",
        lambda d: (lg.zeros(3, requires_grad=True, device=d),),
        lambda a: a.numpy(),
        RuntimeError,
        "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.",
    ),
    (
        "ragged",
        lambda d: (),
        lambda: lg.tensor([[1, 2], [3]]),
        ValueError,
        "expected sequence of length 2 at dim 1 (got 1)",
    ),
    (
        "string_data",
        lambda d: (),
        lambda: lg.tensor("abc"),
        TypeError,
        "new(): invalid data type 'str'",
    ),
    (
        "arange_sign",
        lambda d: (),
        lambda: lg.arange(0, 10, -1),
        RuntimeError,
        "upper bound and lower bound inconsistent with step sign",
    ),
    (
        "arange_step",
        lambda d: (),
        lambda: lg.arange(0, 10, 0),
        RuntimeError,
        "step must be nonzero",
    ),
    (
        "eye_negative",
        lambda d: (),
        lambda: lg.eye(-1),
        RuntimeError,
        "n must be greater or equal to 0, got -1",
    ),
    (
        "randint_range",
        lambda d: (),
        lambda: lg.randint(5, 3, (2,)),
        RuntimeError,
        "random_ expects 'from' to be less than 'to', but got from=5 >= to=3",
    ),
    (
        "linspace_steps",
        lambda d: (),
        lambda: lg.linspace(0, 1, -1),
        RuntimeError,
        "number of steps must be non-negative",
    ),
    (
        "zeros_negative",
        lambda d: (),
        lambda: lg.zeros(-1),
        RuntimeError,
        "zeros: Dimension size must be non-negative.",
    ),
    (
        "ones_negative",
        lambda d: (),
        lambda: lg.ones(2, -1),
        RuntimeError,
        "Trying to create tensor with negative dimension -1: [2, -1]",
    ),
    (
        "rand_int",
        lambda d: (),
        lambda: lg.rand(2, dtype=lg.int64),
        NotImplementedError,
        "\"check_uniform_bounds\" not implemented for 'Long'",
    ),
    (
        "size_float",
        lambda d: (),
        lambda: lg.ones(2, 3.5),
        TypeError,
        "ones(): argument 'size' failed to unpack the object at pos 2 with error \"type must be "
        'tuple of ints,but got float"',
    ),
]


@pytest.mark.parametrize(
    "make, op, error, message", [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_user_error(
    make: Callable,
    op: Callable,
    error: type,
    message: str | None,
    device: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    operands = make(device)
    before = [o.detach().numpy() for o in operands]
    with monkeypatch.context() as patch:
        patch.setattr(REALIZE_MODULE, "run_schedule", _refuse_to_run)
        with pytest.raises(error, match=None if message is None else f"^{re.escape(message)}$"):
            op(*operands)
    for o, values in zip(operands, before, strict=True):  # the operands are still usable
        check(o.detach(), values)
        check(o.detach() * 1, values * 1)


def test_bad_device_string_lists_valid_devices() -> None:
    with pytest.raises(RuntimeError) as info:
        lg.zeros(2, device="foo")
    message = str(info.value)
    assert "foo" in message and "cpu" in message and "opencl" in message
    with pytest.raises(RuntimeError, match="cpu"):
        lg.device("tpu:0")
    t = lg.ones(2)
    with pytest.raises(RuntimeError, match="bar"):
        t.to("bar")
    check(t, np.ones(2, np.float32))


def test_mixing_devices() -> None:
    if not opencl_ready():
        pytest.skip("no OpenCL device here and CI is unset")
    a = lg.tensor([1.0, 2.0], device="opencl")
    b = lg.tensor([3.0, 4.0], device="cpu")
    message = (
        "Expected all tensors to be on the same device, but found at least two devices, "
        "opencl:0 and cpu!"
    )
    for op in (
        lambda: a + b,
        lambda: b * a,
        lambda: lg.where(b > 0, a, b),
        lambda: a @ b,
        lambda: lg.cat([a, b]),
        lambda: b.add_(a),
        lambda: lg.maximum(a, b),
        lambda: b.__setitem__(0, a[0]),
    ):
        with pytest.raises(RuntimeError, match=f"^{re.escape(message)}$"):
            op()
    check(b, np.array([3.0, 4.0], np.float32))
    check(a.cpu(), np.array([1.0, 2.0], np.float32))
    check(a.to("cpu") + b, np.array([4.0, 6.0], np.float32))
    check(a[lg.tensor([1, 0])].cpu(), np.array([2.0, 1.0], np.float32))  # CPU indices are fine
    with pytest.raises(
        RuntimeError,
        match="indices should be either on cpu or on the same "
        "device as the indexed tensor \\(cpu\\)",
    ):
        b[lg.tensor([0], device="opencl")]
    c = lg.zeros(2, device="opencl")
    c.copy_(b)  # copy_ moves data between devices
    check(c.cpu(), np.array([3.0, 4.0], np.float32))


def test_errors_leave_no_partial_in_place_update(device: str) -> None:
    t = lg.tensor([1, 2, 3], device=device)
    with pytest.raises(RuntimeError):
        t.add_(lg.ones(2, 3, dtype=lg.int64, device=device))
    with pytest.raises(RuntimeError):
        t[0:2] = lg.tensor([1, 2, 3], device=device)
    with pytest.raises(RuntimeError):
        t.mul_(0.5)
    check(t, np.array([1, 2, 3]))


# ---- conversions to Python scalars and bool ------------------------------------------------
def test_float_of_many_elements_is_a_value_error() -> None:
    with pytest.raises(
        ValueError, match="only one element tensors can be converted to Python scalars"
    ):
        float(lg.zeros(2, 3))


def test_bool_of_empty_tensor_message() -> None:
    with pytest.raises(RuntimeError, match="^Boolean value of Tensor with no values is ambiguous$"):
        bool(lg.zeros(0))
