"""mllint: a linter for the pitfalls that silently corrupt ML models and metrics.

Importing this package is deliberately cheap: it imports neither libcst, rich nor any rule.
The public entry points live in :mod:`mllint.api` (imported lazily on first use).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["__version__", "check_source", "fix_source"]

if TYPE_CHECKING:
    from mllint.api import check_source, fix_source


def __getattr__(name: str) -> Any:
    if name in ("check_source", "fix_source"):
        from mllint import api

        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
