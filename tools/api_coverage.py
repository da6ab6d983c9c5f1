"""Which names of the PyTorch API checklist lazygrad has: `python tools/api_coverage.py
[CHECKLIST]` prints the missing ones per section and the counts (a name counts when it
resolves: `lg.NAME`, `Tensor.NAME`, or the dotted path under `lg`).

The checklist is the shared `pytorch-api-checklist.md` (three sections of backquoted
names); pass its path, or set LAZYGRAD_API_CHECKLIST."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import lazygrad as lg

SECTIONS = ("lg.NAME", "t.NAME", "lg.PATH")


def read_checklist(path: Path) -> dict[str, list[str]]:
    """Section title -> the backquoted names listed under it."""
    sections: dict[str, list[str]] = {}
    current = None
    for line in path.read_text().splitlines():
        if line.startswith("## "):
            current = line[3:].strip()
            sections[current] = []
        elif current is not None:
            sections[current] += re.findall(r"`([^`]+)`", line)
    return sections


def has(section: str, name: str) -> bool:
    """Whether lazygrad offers `name` as the section asks (a function, method or path)."""
    if "t.NAME" in section:
        return hasattr(lg.Tensor, name)
    target: object = lg
    for part in name.split("."):
        if not hasattr(target, part):
            return False
        target = getattr(target, part)
    return True


def main(argv: list[str]) -> int:
    default = os.environ.get("LAZYGRAD_API_CHECKLIST", "../shared/pytorch-api-checklist.md")
    path = Path(argv[0] if argv else default)
    if not path.exists():
        print(f"no checklist at {path}: pass its path", file=sys.stderr)
        return 2
    total = found = 0
    for section, names in read_checklist(path).items():
        missing = [n for n in names if not has(section, n)]
        total += len(names)
        found += len(names) - len(missing)
        print(f"{section}: {len(names) - len(missing)}/{len(names)}")
        if missing:
            print("  missing: " + " ".join(missing))
    print(f"all: {found}/{total}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
