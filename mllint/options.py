"""Rule options (no libcst here: configuration is validated without importing any rule)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Option:
    """A rule option, configured under ``[tool.mllint.<rule-name>]``."""

    name: str
    kind: str  # one of: "str", "bool", "int", "float", "list[str]", "regex", "dict[str,str]"
    default: Any
    help: str

    def validate(self, value: Any) -> Any:
        """Return the value converted to its Python type, or raise ``ValueError``."""
        kind = self.kind
        if kind == "bool":
            if isinstance(value, bool):
                return value
        elif kind == "int":
            if isinstance(value, int) and not isinstance(value, bool):
                return value
        elif kind == "float":
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return float(value)
        elif kind in ("str", "regex"):
            if isinstance(value, str):
                if kind == "regex":
                    try:
                        re.compile(value)
                    except re.error as exc:
                        raise ValueError(f"is not a valid regular expression ({exc})") from None
                return value
        elif kind == "list[str]":
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                return tuple(value)
        elif kind == "dict[str,str]":
            if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
                return dict(value)
        else:  # pragma: no cover - programming error in a rule
            raise AssertionError(f"unknown option kind {kind!r}")
        raise ValueError(f"must be of type {kind}, got {type(value).__name__} {value!r}")
