"""The PyTorch-shaped ops: creation, math, movement, indexing, views, autograd, and the
binding of all of them to `Tensor` as methods and operators (`methods`)."""
