"""Compiler passes: each a function from graph to graph (simplify, fold_views, fuse,
autodiff with its grad_rules), testable alone."""
