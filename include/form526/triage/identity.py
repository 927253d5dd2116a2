"""A submission's own identity values, used only to scrub them out of error text before a key is made.

Upstream error text can quote the veteran ("Veteran name 'Jane Q. Doe' does not match file number ...").
``Identity.from_source`` takes the auth headers (``va_eauth_firstName``, ``va_eauth_lastName``,
``va_eauth_pnid``, ``va_eauth_birlsfilenumber``, ``va_eauth_pid``, ``va_eauth_birthdate``) and the mailing
address (``form526.form526.veteran.currentMailingAddress``: address lines and city) of one submission;
``scrub`` replaces every occurrence, case-insensitively, with ``[NAME]``, ``[ID]``, ``[DOB]`` or
``[ADDRESS]``. Names and address parts match whole words only; ids match whatever separates their digits.

The values live only inside the compiled patterns of an ``Identity``; its repr shows none of them, and
they are never logged, stored or returned.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

NAME, ID, DOB, ADDRESS = "[NAME]", "[ID]", "[DOB]", "[ADDRESS]"
WITHHELD_TEXT = "[message withheld: identity unreadable]"
MIN_WORD_CHARS = 2  # a one-letter name part would mangle every message
MIN_ID_DIGITS = 5
MIN_ADDRESS_CHARS = 3

NAME_FIELDS = ("va_eauth_firstName", "va_eauth_lastName")
ID_FIELDS = ("va_eauth_pnid", "va_eauth_birlsfilenumber", "va_eauth_pid")
BIRTH_FIELD = "va_eauth_birthdate"
ADDRESS_FIELDS = ("addressLine1", "addressLine2", "addressLine3", "city")


def _object(value: Any) -> Mapping[str, Any]:
    if isinstance(value, (str, bytes)):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return value if isinstance(value, Mapping) else {}


def _text(value: Any) -> str:
    return " ".join(value.split()) if isinstance(value, str) else ""


def _phrase(value: str) -> str:
    """A whole-word, whitespace-flexible pattern for ``value``."""
    return r"(?<!\w)" + r"\s+".join(re.escape(w) for w in value.split()) + r"(?!\w)"


def _digits(value: str) -> str:
    """``value``'s digits with any run of separators allowed between them (123-45-6789, 123 45 6789)."""
    return r"(?<!\d)" + r"[\s./-]*".join(value) + r"(?!\d)"


def _date_variants(value: str) -> list[str]:
    """The ways a birth date is commonly written: ISO, compact, US with / or -, with or without zero padding."""
    m = re.match(r"\s*(\d{4})-?(\d{2})-?(\d{2})", value)
    if not m:
        return []
    try:
        d = date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return []
    y, mo, dy = f"{d.year:04d}", d.month, d.day
    out = {f"{y}-{mo:02d}-{dy:02d}", f"{y}{mo:02d}{dy:02d}", f"{y}/{mo:02d}/{dy:02d}"}
    for sep in "/-":
        out |= {f"{mo:02d}{sep}{dy:02d}{sep}{y}", f"{mo}{sep}{dy}{sep}{y}"}
    return sorted(out, key=len, reverse=True)


class Identity:
    """Scrubs one submission's identity values out of text; holds nothing else and shows nothing."""

    __slots__ = ("_labels", "_pattern", "_withheld")

    def __init__(self, names: Iterable[str] = (), ids: Iterable[str] = (), birth_dates: Iterable[str] = (),
                 address: Iterable[str] = ()) -> None:
        name_parts = set()
        for name in filter(None, map(_text, names)):
            name_parts.add(name)
            name_parts.update(w for w in name.split() if len(w.strip(".,'-")) >= MIN_WORD_CHARS)
        id_digits = {re.sub(r"\D", "", str(v)) for v in ids if v is not None}
        # (value length, placeholder, pattern): one alternation, longest value first, so a street line wins
        # over the name inside it and a placeholder is never scanned again
        alts = {(len(a), ADDRESS, _phrase(a)) for a in map(_text, address) if len(a) >= MIN_ADDRESS_CHARS}
        alts |= {(len(n), NAME, _phrase(n)) for n in name_parts if len(n) >= MIN_WORD_CHARS}
        alts |= {(len(d), ID, _digits(d)) for d in id_digits if len(d) >= MIN_ID_DIGITS}
        alts |= {(len(v), DOB, re.escape(v)) for b in birth_dates for v in _date_variants(_text(b))}
        ordered = sorted(alts, key=lambda a: (-a[0], a[1], a[2]))
        self._labels = tuple(label for _, label, _ in ordered)
        self._pattern = (re.compile("|".join(f"({p})" for _, _, p in ordered), re.IGNORECASE)
                         if ordered else None)
        self._withheld = False

    @classmethod
    def withheld(cls) -> Identity:
        """For a submission whose identity could not be read (encrypted columns that do not decrypt): its
        error text cannot be scrubbed, so none of it is kept."""
        ident = cls()
        ident._withheld = True
        return ident

    def __repr__(self) -> str:
        return "Identity(<withheld>)"

    def __bool__(self) -> bool:
        return self._pattern is not None or self._withheld

    def scrub(self, text: str | None) -> str | None:
        """``text`` with every identity value replaced by its placeholder (None stays None); WITHHELD_TEXT
        for all of it when the identity could not be read."""
        if not text:
            return text
        if self._withheld:
            return WITHHELD_TEXT
        if self._pattern is None:
            return text
        return self._pattern.sub(lambda m: self._labels[m.lastindex - 1], text)

    @classmethod
    def from_source(cls, auth_headers_json: Any, form_json: Any) -> Identity:
        """From the raw ``auth_headers_json`` and ``form_json`` columns (text or parsed); bad JSON gives an
        identity with whatever could be read."""
        auth = _object(auth_headers_json)
        form = _object(form_json)
        inner = _object(_object(form.get("form526")).get("form526"))
        mailing = _object(_object(inner.get("veteran")).get("currentMailingAddress"))
        return cls(names=[auth.get(f) for f in NAME_FIELDS],
                   ids=[auth[f] for f in ID_FIELDS if isinstance(auth.get(f), (str, int)) and auth.get(f) != ""],
                   birth_dates=[auth.get(BIRTH_FIELD)],
                   address=[mailing.get(f) for f in ADDRESS_FIELDS])


NO_IDENTITY = Identity()
