"""Size and nesting limits checked on raw JSON text before anything parses it.

`json.loads` and every recursive walk over its result (dedup's key stripping, `to_text`, the
renderers) recurse once per nesting level, so a column nested ~1,000 levels deep raises
RecursionError. The depth is therefore measured here by a linear scan of the text, never by
parsing it: string literals (escapes honoured) are removed and the brackets left are counted.
No real 21-526EZ form comes near either limit.
"""

from __future__ import annotations

import re
from typing import Literal

MAX_JSON_CHARS = 5_000_000
"""Longest JSON text (in characters) any column may have; a real form_json is tens of kilobytes."""
MAX_JSON_DEPTH = 64
"""Deepest nesting of arrays/objects allowed; a real form_json is about 10 levels deep."""

TOO_LARGE = "too_large"
TOO_DEEP = "too_deep"
Problem = Literal["too_large", "too_deep"]

_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


def nesting_depth(text: str, stop_above: int | None = None) -> int:
    """Deepest bracket nesting outside string literals; stops counting once past `stop_above`."""
    # Inside strings every backslash starts a two-character escape; removing escaped backslashes, then
    # escaped quotes, leaves only delimiting quotes, so the even pieces between quotes are outside strings.
    # (An unterminated string leaves an odd last piece: dropped.) This is exact on any valid JSON prefix,
    # which is all a parser recurses through.
    if "\\" in text:
        text = text.replace("\\\\", "").replace('\\"', "")
    outside = "".join(text.split('"')[::2])
    brackets = _NOT_BRACKET.sub("", outside)
    depth = deepest = 0
    for ch in brackets:
        if ch in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if stop_above is not None and deepest > stop_above:
                    break
        elif depth:
            depth -= 1
    return deepest


def json_problem(
    text: str, max_chars: int = MAX_JSON_CHARS, max_depth: int = MAX_JSON_DEPTH
) -> Problem | None:
    """Why `text` must not be parsed (`too_large` or `too_deep`), or None when it is safe to parse."""
    if len(text) > max_chars:
        return TOO_LARGE
    # Fewer opening brackets than the limit (anywhere, even inside strings) cannot nest past it.
    if text.count("[") + text.count("{") > max_depth and nesting_depth(text, stop_above=max_depth) > max_depth:
        return TOO_DEEP
    return None
