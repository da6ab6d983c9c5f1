"""The training examples in `examples/`, each run briefly in a subprocess on every device.

Each run must exit with status 0 and print sane figures: finite losses that fall over the
short run, accuracies in [0, 1]. The full runs (98% test accuracy for the CNN, a loss below
the stated target for the LSTM) take minutes and are not part of the suite:

    python examples/train_cnn_digits.py --check
    python examples/train_char_lstm.py --check
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import DEVICES, opencl_ready

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
TIMEOUT_S = 300  # generous: a cold OpenCL kernel cache compiles every kernel once

EPOCH_LINE = re.compile(
    r"^epoch +(\d+)/\d+: loss (\S+) \(eval (\S+)\), train acc (\S+), "
    r"test loss (\S+), test acc (\S+)",
    re.MULTILINE,
)
STEP_LINE = re.compile(r"^step +(\d+)/\d+: loss (\S+)", re.MULTILINE)
FINAL_LOSS = re.compile(r"^final loss over the text: (\S+) nats/char", re.MULTILINE)
ENTROPY = re.compile(r"^unigram entropy (\S+) nats/char", re.MULTILINE)
TEST_ACCURACY = re.compile(r"^test accuracy: (\S+)%$", re.MULTILINE)


@pytest.fixture(params=DEVICES, ids=DEVICES)
def example_device(request: pytest.FixtureRequest) -> str:
    """The LAZYGRAD_DEVICE an example runs on: cpu, then opencl where available."""
    if request.param == "opencl" and not opencl_ready():
        pytest.skip("no OpenCL device here and CI is unset")
    return request.param


def run_example(script: str, device: str, *args: str) -> str:
    """Run `examples/<script>` with LAZYGRAD_DEVICE=`device`; assert it exits with 0 and
    return its standard output."""
    env = {**os.environ, "LAZYGRAD_DEVICE": device}
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=TIMEOUT_S,
    )
    assert done.returncode == 0, f"{script} failed:\n{done.stdout}\n{done.stderr}"
    assert f"on {device}" in done.stdout  # the header names the device it ran on
    return done.stdout


def test_cnn_digits_quick(example_device: str) -> None:
    """Two epochs on a subset: finite losses, the training loss falls, accuracies in
    [0, 1], and the model already beats chance on the test images."""
    pytest.importorskip("sklearn", reason="the digits come from scikit-learn (demo extra)")
    out = run_example("train_cnn_digits.py", example_device, "--quick")
    epochs = [tuple(map(float, m.groups())) for m in EPOCH_LINE.finditer(out)]
    assert [int(e[0]) for e in epochs] == [1, 2], out
    for _, loss, eval_loss, train_acc, test_loss, test_acc in epochs:
        assert all(math.isfinite(v) for v in (loss, eval_loss, test_loss)), out
        assert 0.0 <= train_acc <= 1.0 and 0.0 <= test_acc <= 1.0, out
    assert epochs[1][1] < epochs[0][1], out  # the mean training loss falls
    assert epochs[1][2] < epochs[0][2], out  # and so does the evaluated one
    accuracy = TEST_ACCURACY.search(out)
    assert accuracy is not None, out
    assert float(accuracy.group(1)) / 100 == pytest.approx(epochs[-1][5], abs=1e-4)
    assert epochs[-1][5] > 0.5, out  # 10 classes: chance is 10%


def test_char_lstm_short(example_device: str) -> None:
    """A few dozen steps of a small LSTM: finite losses that fall, below the unigram
    entropy by the end, and a greedy sample."""
    out = run_example(
        "train_char_lstm.py",
        example_device,
        *("--steps", "40", "--log-every", "10", "--seq-len", "8", "--hidden", "64"),
        *("--sample-length", "20"),
    )
    losses = [float(m.group(2)) for m in STEP_LINE.finditer(out)]
    assert len(losses) == 4, out
    assert all(math.isfinite(v) for v in losses), out
    assert losses[-1] < losses[0], out
    entropy, final = ENTROPY.search(out), FINAL_LOSS.search(out)
    assert entropy is not None and final is not None, out
    assert math.isfinite(float(final.group(1))), out
    assert float(final.group(1)) < float(entropy.group(1)), out
    assert "sample: 'the keeper " in out
