"""One SGD step of a 2-layer MLP on random data: the script behind docs/training-step.svg.

lazygrad viz docs/training_step.py --kernels --backward -o docs/training-step.svg
"""

import lazygrad as lg

lg.manual_seed(0)
x = lg.randn(8, 4)
y = lg.randn(8, 1)
w1 = lg.randn(4, 16, requires_grad=True)
w2 = lg.randn(16, 1, requires_grad=True)
lr = 0.1

loss = ((x @ w1).relu() @ w2 - y).pow(2).mean()
loss.backward()
with lg.no_grad():
    w1 -= lr * w1.grad
    w2 -= lr * w2.grad
lg.realize(loss, w1, w2)
