"""RFC 3339 instants and intervals as UTC epoch seconds.

Both backends compare times as numbers: epoch seconds index and compare fast in
SQLite, and an interval with an open end (``..`` or empty) becomes ``None`` so
one code path handles ``2025-01-01/..`` and ``../2025-02-01`` alike.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from eokg.errors import InputError


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


def parse_interval(text: str, *, where: str = "datetime") -> tuple[float | None, float | None]:
    """Parse ``instant`` or ``start/end`` (either end may be ``..`` or empty) to bounds."""
    if "/" not in text:
        instant = parse_instant(text, where=where)
        return instant, instant
    first, _, second = text.partition("/")
    start = None if first.strip() in ("", "..") else parse_instant(first, where=where)
    end = None if second.strip() in ("", "..") else parse_instant(second, where=where)
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
