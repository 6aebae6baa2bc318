"""RFC 3339 instants and intervals as UTC epoch seconds.

Both backends compare times as numbers: epoch seconds index and compare fast in
SQLite, and an interval with an open end (``..`` or empty) becomes ``None`` so
one code path handles ``2025-01-01/..`` and ``../2025-02-01`` alike.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from eokg.errors import InputError

#: RFC 3339 ``date-time`` (section 5.6): full date, ``T``, full time, fraction after a
#: ``.`` only, and a mandatory ``Z`` or ``+hh:mm`` offset.  Case-insensitive T and Z.
RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?"
    r"(?:([Zz])|([+-])(\d{2}):(\d{2}))"
)


def parse_instant(text: str, *, where: str = "datetime") -> float:
    """Parse an RFC 3339 timestamp (or a plain date) to epoch seconds, UTC."""
    value = text.strip()
    try:
        if len(value) == 10:
            parsed = datetime.combine(date.fromisoformat(value), datetime.min.time(), UTC)
        else:
            parsed = datetime.fromisoformat(value.replace("z", "Z").replace("Z", "+00:00"))
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)
    except ValueError as exc:
        raise InputError(f"not an RFC 3339 timestamp: {text!r}", where=where) from exc
    return parsed.timestamp()


def rfc3339_datetime(text: str, *, where: str = "datetime") -> datetime:
    """Parse a strict RFC 3339 ``date-time`` to an aware UTC ``datetime``.

    Stricter than ``parse_instant`` on purpose: the STAC ``datetime`` parameter must
    be RFC 3339, and the ISO 8601 forms ``datetime.fromisoformat`` also takes (a date
    alone, ``,`` fractions, no offset, ``+0100``) are refused so a client learns of its
    mistake instead of getting a guessed time zone.  A leap second (``:60``) is taken
    as the next second; fractions past microseconds are dropped.
    """
    match = RFC3339.fullmatch(text.strip())
    if match is None:
        raise InputError(f"not an RFC 3339 timestamp: {text!r}", where=where)
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    micros = int((match.group(7) or "0")[:6].ljust(6, "0"))
    offset = 0
    if match.group(9):
        hours, minutes = int(match.group(10)), int(match.group(11))
        if hours > 23 or minutes > 59:
            raise InputError(f"not an RFC 3339 offset: {text!r}", where=where)
        offset = (hours * 60 + minutes) * (1 if match.group(9) == "+" else -1)
    leap = second == 60
    try:
        moment = datetime(year, month, day, hour, minute, 59 if leap else second, micros, UTC)
    except ValueError as exc:
        raise InputError(f"not an RFC 3339 timestamp: {text!r}", where=where) from exc
    return moment - timedelta(minutes=offset) + timedelta(seconds=1 if leap else 0)


def parse_rfc3339(text: str, *, where: str = "datetime") -> float:
    """``rfc3339_datetime`` as epoch seconds."""
    return rfc3339_datetime(text, where=where).timestamp()


def canonical_interval(text: str, *, where: str = "datetime") -> str:
    """A strict RFC 3339 instant or interval rewritten in UTC with ``Z`` and ``..`` ends.

    Checked first (``parse_interval(strict=True)``), so what the backends parse later
    (lowercase ``t``, nine fraction digits, a leap second) is one plain form.
    """
    parse_interval(text, where=where, strict=True)

    def one(part: str) -> str:
        if part.strip() in ("", ".."):
            return ".."
        moment = rfc3339_datetime(part, where=where)
        spec = "microseconds" if moment.microsecond else "seconds"
        return moment.isoformat(timespec=spec).replace("+00:00", "Z")

    if "/" not in text:
        return one(text)
    first, _, second = text.partition("/")
    return f"{one(first)}/{one(second)}"


def parse_interval(
    text: str, *, where: str = "datetime", strict: bool = False
) -> tuple[float | None, float | None]:
    """Parse ``instant`` or ``start/end`` (either end may be ``..`` or empty) to bounds.

    ``strict``: every instant must be an RFC 3339 date-time (the STAC ``datetime``
    parameter); otherwise a plain date or an offset-less time is taken as UTC.
    """
    parse = parse_rfc3339 if strict else parse_instant
    if "/" not in text:
        instant = parse(text, where=where)
        return instant, instant
    first, _, second = text.partition("/")
    start = None if first.strip() in ("", "..") else parse(first, where=where)
    end = None if second.strip() in ("", "..") else parse(second, where=where)
    if start is None and end is None:
        raise InputError("an interval needs at least one closed end", where=where)
    if start is not None and end is not None and start > end:
        raise InputError(f"interval start is after its end: {text!r}", where=where)
    return start, end


def to_iso(epoch: float) -> str:
    """Epoch seconds back to RFC 3339 with a ``Z``."""
    moment = datetime.fromtimestamp(epoch, UTC)
    text = moment.isoformat(timespec="milliseconds" if moment.microsecond else "seconds")
    return text.replace("+00:00", "Z")
