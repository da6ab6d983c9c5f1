"""`python -m lazygrad`: the same as the `lazygrad` command."""

from .cli import main

raise SystemExit(main())
