"""Code generation's device-independent floor, between `ir/` and `renderer/`.

`graph` walks a kernel's nodes, `access` says how each leaf indexes its buffer and merges the
dims of the iteration space, `bounds` proves indexed positions inside their tensors, `vectors`
says which values can be computed as vector lanes, and `reduce_plan` and `dot_plan` decide a
kernel's layout on a device (`target`): work per work-item, splits, vector width, tiles.
Everything here is plain data and arithmetic, no C: `renderer/` turns the plans into source.
"""
