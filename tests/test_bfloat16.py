"""bfloat16: PyTorch's brain float (8 exponent bits, 7 mantissa bits), on both backends.

Every op computes in float32 and rounds its result to bfloat16 (round to nearest, ties to
even); sums, products and matmuls accumulate in float32 and round once; float16 with
bfloat16 promotes to float32; `.numpy()` refuses, as PyTorch does. The references below round
float32 values through their bits, independently of the `ml_dtypes` package lazygrad uses.
"""

from __future__ import annotations

import io

import numpy as np
import pytest

import lazygrad as lg


def bf16(x: object) -> np.ndarray:
    """float32 values rounded to the nearest bfloat16 (ties to even), as float32."""
    f = np.asarray(x, dtype=np.float32)
    bits = f.view(np.uint32).astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000
    out = rounded.astype(np.uint32).view(np.float32)
    return np.where(np.isfinite(f), out, f)


def values(t: lg.Tensor) -> np.ndarray:
    assert t.dtype is lg.bfloat16, t.dtype
    return t.float().numpy()


RNG = np.random.default_rng(7)
X = bf16(RNG.uniform(-3, 3, (5, 6)))
Y = bf16(RNG.uniform(0.5, 2, (5, 6)))


def test_reference_rounds_ties_to_even() -> None:
    one_ulp = 2.0**-7
    assert bf16(1 + one_ulp / 2) == 1  # a tie: to the even mantissa (1.0)
    assert bf16(1 + 3 * one_ulp / 2) == 1 + 2 * one_ulp  # a tie: to the even one above
    assert bf16(1 + one_ulp * 0.51) == 1 + one_ulp


def test_elementwise_results_are_rounded_after_every_op(device: str) -> None:
    x, y = (lg.tensor(v, dtype=lg.bfloat16, device=device) for v in (X, Y))
    got = ((x * y + 1 / 3) / y).exp().tanh() - x.abs().sqrt()
    step = bf16(bf16(X * Y) + bf16(1 / 3))
    step = bf16(np.tanh(bf16(np.exp(bf16(step / Y)))))
    want = bf16(step - bf16(np.sqrt(np.abs(X))))
    np.testing.assert_allclose(values(got), want, rtol=0, atol=2.0**-8)
    assert np.array_equal(values(x * y), bf16(X * Y))  # one op: exactly the rounded product


def test_sums_and_matmuls_accumulate_in_float32(device: str) -> None:
    # 1 + 256 * 2**-9: each addition alone rounds back to 1 in bfloat16, the float32 sum is 1.5
    small = np.concatenate([[1.0], np.full(256, 2.0**-9)]).astype(np.float32)
    s = lg.tensor(small, dtype=lg.bfloat16, device=device)
    assert values(s.sum()) == 1.5
    a = lg.tensor(small[None, :], dtype=lg.bfloat16, device=device)
    b = lg.ones(257, 1, dtype=lg.bfloat16, device=device)
    assert values(a @ b).tolist() == [[1.5]]
    x = lg.tensor(X, dtype=lg.bfloat16, device=device)
    np.testing.assert_allclose(values(x @ x.T), bf16(X @ X.T), rtol=2.0**-7)


def test_promotion_follows_pytorch() -> None:
    b = lg.ones(2, dtype=lg.bfloat16)
    assert (b + lg.ones(2, dtype=lg.float16)).dtype is lg.float32
    assert (b + lg.ones(2)).dtype is lg.float32
    assert (b + lg.ones(2, dtype=lg.int64)).dtype is lg.bfloat16
    assert (b + lg.tensor(1.0)).dtype is lg.bfloat16  # a 0-d float32: same category, loses
    assert (b * 2.5).dtype is lg.bfloat16
    assert (b + lg.ones(2, dtype=lg.float64)).dtype is lg.float64
    assert (lg.ones(2, dtype=lg.int32) / 2).to(lg.bfloat16).dtype is lg.bfloat16


def test_names_sizes_casts_and_printing() -> None:
    t = lg.tensor([1.5, 2.25, 3.3], dtype=lg.bfloat16)
    assert t.element_size() == 2 and t.is_floating_point() and t.dtype.is_signed
    assert t.type() == "lazygrad.BFloat16Tensor"
    assert repr(t) == "tensor([1.5000, 2.2500, 3.2969], dtype=lazygrad.bfloat16)"
    assert lg.ones(2).bfloat16().dtype is lg.bfloat16
    assert lg.ones(2).to("bfloat16").dtype is lg.bfloat16
    assert t.tolist() == [1.5, 2.25, 3.296875] and t[0].item() == 1.5
    assert t.to(lg.int64).tolist() == [1, 2, 3]
    assert lg.tensor([70000.0]).bfloat16().tolist() == [70144.0]  # range of float32, not half


def test_numpy_refuses_bfloat16_as_pytorch_does() -> None:
    t = lg.ones(2, dtype=lg.bfloat16)
    with pytest.raises(TypeError, match="Got unsupported ScalarType BFloat16"):
        t.numpy()
    with pytest.raises(TypeError, match="BFloat16"):
        np.asarray(t)
    assert t.float().numpy().tolist() == [1.0, 1.0]  # the way out PyTorch users know


def test_gradients_flow_in_bfloat16(device: str) -> None:
    w = lg.tensor(X[0], dtype=lg.bfloat16, device=device, requires_grad=True)
    (w * w * 3).sum().backward()
    assert w.grad is not None and w.grad.dtype is lg.bfloat16
    np.testing.assert_allclose(values(w.grad), bf16(bf16(3 * X[0]) * 2), rtol=2.0**-7)


def test_a_bfloat16_layer_trains(device: str) -> None:
    lg.manual_seed(0)
    layer = lg.nn.Linear(6, 1).to(device=device, dtype=lg.bfloat16)
    opt = lg.optim.SGD(layer.parameters(), lr=0.05)
    x = lg.tensor(X, dtype=lg.bfloat16, device=device)
    target = lg.tensor(X.sum(1, keepdims=True), dtype=lg.bfloat16, device=device)
    losses = []
    for _ in range(30):
        opt.zero_grad()
        loss = ((layer(x) - target) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert layer.weight.dtype is lg.bfloat16
    assert losses[-1] < losses[0] / 4


def test_save_and_load_keep_bfloat16() -> None:
    t = lg.tensor(X, dtype=lg.bfloat16)
    buffer = io.BytesIO()
    lg.save({"t": t}, buffer)
    buffer.seek(0)
    back = lg.load(buffer)["t"]
    assert back.dtype is lg.bfloat16 and np.array_equal(values(back), X)


def test_bfloat16_on_opencl_matches_cpu() -> None:
    if not lg.opencl.is_available():
        pytest.skip("no OpenCL device")
    results = []
    for device in ("cpu", "opencl"):
        x = lg.tensor(X, dtype=lg.bfloat16, device=device)
        results.append(values(((x * 1.1).sigmoid() @ x.T).softmax(1).cumsum(1)))
    np.testing.assert_array_equal(results[0], results[1])


def test_importing_lazygrad_leaves_ml_dtypes_unloaded() -> None:
    # ml_dtypes takes most of a second to import: only a program that uses bfloat16 pays it
    import subprocess
    import sys

    code = (
        "import sys, lazygrad as lg\n"
        "print((lg.ones(2) * 2).tolist(), 'ml_dtypes' in sys.modules)\n"
        "print(lg.ones(2, dtype=lg.bfloat16).tolist(), 'ml_dtypes' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[:2] == ["[2.0, 2.0] False", "[1.0, 1.0] True"]


def test_casts_from_double_and_integers_round_through_float32_on_both_backends() -> None:
    # PyTorch converts to bfloat16 and float16 from float only: a double or a large integer is
    # rounded to float32 first (two roundings), on every device
    double = 1 + 2.0**-8 + 2.0**-30  # just above a bfloat16 tie, exactly a tie in float32
    devices = ["cpu", "opencl"] if lg.opencl.is_available() else ["cpu"]
    for device in devices:
        x = lg.tensor([double], dtype=lg.float64, device=device)
        assert x.bfloat16().tolist() == [1.0], device
        half = lg.tensor([1 + 2.0**-11 + 2.0**-40], dtype=lg.float64, device=device).half()
        assert half.tolist() == [1.0], device  # a half tie once in float32: to even
        n = lg.tensor([2**24 + 2**16 + 1], dtype=lg.int32, device=device)
        assert n.bfloat16().tolist() == [2.0**24], device
    assert lg.tensor([double], dtype=lg.bfloat16).tolist() == [1.0]


def test_mean_and_python_scalars_stay_at_float32_until_the_result(device: str) -> None:
    data = np.array([0.1259765625, -0.1318359375, 0.640625], np.float32)
    x = lg.tensor(data, dtype=lg.bfloat16, device=device)
    # PyTorch: a float32 sum divided by n, rounded once (not sum * bf16(1/3), rounded thrice)
    assert values(x.mean()) == bf16(data.sum(dtype=np.float32) / np.float32(3))
    assert values(x.mean()) == np.float32(0.2119140625)
    # PyTorch multiplies and divides by a Python scalar at float32 (0.001 is not rounded to
    # bfloat16 first) but adds and subtracts it rounded (x + 0.3 adds 0.30078125)
    for got in (x * 0.001, 0.001 * x, x - 0.001, x / 3):
        assert got.dtype is lg.bfloat16
    np.testing.assert_array_equal(values(x * 0.001), bf16(data * np.float32(0.001)))
    np.testing.assert_array_equal(values(0.001 * x), bf16(data * np.float32(0.001)))
    np.testing.assert_array_equal(values(x / 3), bf16(data / np.float32(3)))
    np.testing.assert_array_equal(values(x + 0.3), bf16(data + np.float32(0.30078125)))


def test_uniform_draws_stay_below_one_in_every_float_dtype(device: str) -> None:
    # a float64 draw rounded to a narrow type can become 1.0; torch.rand never returns it
    for dtype in (lg.bfloat16, lg.float16, lg.float32):
        lg.manual_seed(0)
        assert float(lg.rand(20000, dtype=dtype, device=device).float().max().item()) < 1.0


def test_bfloat16_draws_on_opencl_first_thing_in_a_process() -> None:
    if not lg.opencl.is_available():
        pytest.skip("no OpenCL device")
    import subprocess
    import sys

    code = "import lazygrad as lg; print(lg.randn(3, dtype=lg.bfloat16, device='opencl').dtype)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "lazygrad.bfloat16"
