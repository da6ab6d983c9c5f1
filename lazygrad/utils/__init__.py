"""`lg.utils`: data loading (`lg.utils.data`)."""

from . import data

__all__ = ["data"]
