"""What a runtime builds per kernel, kept by kernel (never on the IR's `Kernel`)."""

from __future__ import annotations

import weakref
from typing import Any

from ..ir.schedule import Kernel


class CompiledForms:
    """What one runtime built for each kernel (a function, a launch plan), kept as long as
    the kernel lives: a cached schedule runs the same kernels again and again."""

    def __init__(self) -> None:
        self._forms: weakref.WeakKeyDictionary[Kernel, Any] = weakref.WeakKeyDictionary()

    def get(self, kernel: Kernel) -> Any:
        return self._forms.get(kernel)

    def keep(self, kernel: Kernel, form: Any) -> Any:
        self._forms[kernel] = form
        return form
