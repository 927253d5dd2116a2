"""CSV cells a spreadsheet will not run: a text cell starting with ``=``, ``+``, ``-``, ``@``, tab or carriage
return gets a leading apostrophe (OWASP "CSV Injection"). Used by every CSV the pipeline writes for people
to open (triage.csv; the delivery reports can use it too). No Airflow import.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """``value`` made inert for a spreadsheet: text that could start a formula is prefixed with ``'``;
    anything that is not text (counts, None) passes through."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def safe_row(row: Iterable[Any]) -> list[Any]:
    """Every cell of ``row`` through ``neutralise`` (for ``csv.writer.writerow``)."""
    return [neutralise(cell) for cell in row]
