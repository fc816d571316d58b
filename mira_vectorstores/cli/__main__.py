"""``python -m mira_vectorstores.cli``: the same as ``mira-vs``."""

from __future__ import annotations

from mira_vectorstores.cli import main

raise SystemExit(main())
