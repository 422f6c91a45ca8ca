"""Writing TOML values (Python reads TOML with tomllib but has no writer)."""

from __future__ import annotations

import json
from typing import Any


def toml_value(v: Any) -> str:
    """A scalar or flat list as TOML text.

    A JSON string is a TOML basic string once non-ASCII text stays literal (JSON would write astral characters as
    surrogate pairs, which TOML rejects) and DEL is escaped (TOML forbids it raw).
    """
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return repr(v)
