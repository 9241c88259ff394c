"""Field checks mirroring Tally's ingest rules.

Tally rejects a whole batch with 400 when one event in it is invalid, so the
client refuses bad events at record time, in the caller's frame, with an
:class:`InvalidEventError` naming the field. The limits are Tally's own
(``server/src/model/fields.rs``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection
from datetime import datetime

MAX_ID = 128
MAX_LANGUAGE = 32
MAX_ENDPOINT = 256
MAX_USER_AGENT = 512
MAX_ERROR = 1024
MAX_CLIENT_IP = 64
MAX_API_KEY = 512
#: One day in milliseconds: Tally treats a longer duration as a unit mistake.
MAX_DURATION_MS = 86_400_000.0
MAX_MEMORY_MB = 16.0 * 1024.0 * 1024.0
MAX_U32 = 2**32 - 1
MAX_U64 = 2**64 - 1

EXECUTION_STATUSES = frozenset({"completed", "failed", "timeout", "error"})
CONTAINER_SOURCES = frozenset({"pool_hit", "pool_miss"})
POOL_KINDS = frozenset({"hit", "miss", "exhausted"})
HTTP_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "CONNECT", "TRACE"})

#: What a caller may pass as an event time: an aware datetime, Unix seconds,
#: or RFC 3339 text.
Timestamp = datetime | float | int | str

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # Unicode category Cc, as Rust's char::is_control
_IDENTIFIER = re.compile(r"[!-~]+")
_LANGUAGE = re.compile(r"[A-Za-z0-9+#._-]+")
_TENANT = re.compile(r"[A-Za-z0-9._-]{1,64}")
_SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")


class InvalidEventError(ValueError):
    """An event Tally would refuse; ``field`` names the offending field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"field `{field}`: {message}")
        self.field = field


def _type_name(value: object) -> str:
    return type(value).__name__


def text(field: str, value: object, max_bytes: int) -> str:
    """Non-empty text of at most ``max_bytes`` UTF-8 bytes, no control characters."""
    if not isinstance(value, str):
        raise InvalidEventError(field, f"must be a string, not {_type_name(value)}")
    if not value:
        raise InvalidEventError(field, "must not be empty")
    size = len(value.encode()) if not value.isascii() else len(value)
    if size > max_bytes:
        raise InvalidEventError(field, f"is {size} bytes long; the limit is {max_bytes}")
    if _CONTROL.search(value):
        raise InvalidEventError(field, "must not contain control characters")
    return value


def identifier(field: str, value: object) -> str:
    """An id: 1 to 128 printable ASCII characters without spaces."""
    if isinstance(value, str) and 0 < len(value) <= MAX_ID and _IDENTIFIER.fullmatch(value):
        return value
    text(field, value, MAX_ID)  # raises with the precise reason when it applies
    raise InvalidEventError(field, "must be printable ASCII without spaces")


def language(field: str, value: object) -> str:
    """A language name: letters, digits and ``+ # . _ -``, at most 32 bytes."""
    if isinstance(value, str) and 0 < len(value) <= MAX_LANGUAGE and _LANGUAGE.fullmatch(value):
        return value
    text(field, value, MAX_LANGUAGE)
    raise InvalidEventError(field, "may contain only letters, digits and + # . _ -")


def choice(field: str, value: object, allowed: Collection[str]) -> str:
    """One of ``allowed`` (an enum of the API)."""
    if isinstance(value, str) and value in allowed:
        return value
    names = ", ".join(sorted(allowed))
    raise InvalidEventError(field, f"must be one of {names} (got {value!r})")


def measure(field: str, value: object, maximum: float) -> float:
    """A finite number between 0 and ``maximum``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidEventError(field, f"must be a number, not {_type_name(value)}")
    if not math.isfinite(value) or value < 0:
        raise InvalidEventError(field, f"must be a finite number >= 0 (got {value!r})")
    if value > maximum:
        raise InvalidEventError(field, f"must be at most {maximum:g} (got {value!r})")
    return value


def count(field: str, value: object, maximum: int) -> int:
    """A whole number between 0 and ``maximum``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidEventError(field, f"must be an integer, not {_type_name(value)}")
    if not 0 <= value <= maximum:
        raise InvalidEventError(field, f"must be between 0 and {maximum} (got {value})")
    return value


def flag(field: str, value: object) -> bool:
    """A boolean (not merely truthy)."""
    if not isinstance(value, bool):
        raise InvalidEventError(field, f"must be a bool, not {_type_name(value)}")
    return value


def method(field: str, value: object) -> str:
    """An HTTP method Tally knows, sent in upper case."""
    if isinstance(value, str):
        upper = value.upper()
        if upper in HTTP_METHODS:
            return upper
    raise InvalidEventError(field, f"must be an HTTP method such as GET or POST (got {value!r})")


def endpoint(field: str, value: object) -> str:
    """A route template starting with ``/``."""
    text(field, value, MAX_ENDPOINT)
    assert isinstance(value, str)
    if not value.startswith("/"):
        raise InvalidEventError(
            field, f"must be a route template starting with / such as /items/{{id}} (got {value!r})"
        )
    return value


def status_code(field: str, value: object) -> int:
    """An HTTP status code, 100 to 599."""
    if isinstance(value, bool) or not isinstance(value, int) or not 100 <= value <= 599:
        raise InvalidEventError(field, f"must be an integer between 100 and 599 (got {value!r})")
    return value


def key_digest(field: str, value: object) -> str:
    """A SHA-256 digest in hex (64 characters, either case)."""
    if not isinstance(value, str) or not _SHA256_HEX.fullmatch(value):
        raise InvalidEventError(field, "must be 64 hexadecimal characters (a SHA-256 digest)")
    return value


def tenant(field: str, value: object, has_key: bool) -> str:
    """A tenant id (1 to 64 of ``A-Z a-z 0-9 . _ -``); it needs a key to belong to."""
    if not has_key:
        raise InvalidEventError(field, "needs `api_key` or `api_key_hash`: a tenant groups API keys")
    if not isinstance(value, str) or not _TENANT.fullmatch(value):
        raise InvalidEventError(field, "must be 1 to 64 ASCII letters, digits, `.`, `_` or `-`")
    return value


def timestamp(field: str, value: object, now: float, oldest: float, newest: float) -> float | str:
    """An event time within ``[oldest, newest]`` (Unix seconds); ``None`` is ``now``.

    Returns what goes on the wire: Unix seconds rounded to the millisecond
    (Tally keeps milliseconds), or the caller's RFC 3339 text unchanged. Both
    are fixed here, once, so every retry sends the same timestamp.
    """
    wire: float | str
    if value is None:
        return round(now, 3)
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise InvalidEventError(field, "must be a timezone-aware datetime (naive given)")
        seconds = value.timestamp()
        wire = round(seconds, 3)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise InvalidEventError(field, f"must be finite Unix seconds (got {value!r})")
        seconds = float(value)
        wire = round(seconds, 3)
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise InvalidEventError(field, f"is not an RFC 3339 timestamp (got {value!r})") from None
        if parsed.tzinfo is None:
            raise InvalidEventError(field, f"needs a UTC offset or Z (got {value!r})")
        seconds = parsed.timestamp()
        wire = value
    else:
        raise InvalidEventError(
            field, f"must be a datetime, Unix seconds or RFC 3339 text, not {_type_name(value)}"
        )
    if seconds < oldest:
        raise InvalidEventError(field, "is older than Tally's execution retention")
    if seconds > newest:
        raise InvalidEventError(field, "is too far in the future (beyond the allowed clock skew)")
    return wire
