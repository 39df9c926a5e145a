"""Typed errors that name the venue, the endpoint and (for schema problems) the field."""

from __future__ import annotations


class ExchangeError(Exception):
    """Something went wrong talking to a venue; `str()` is a message a user can act on."""

    retryable = False

    def __init__(self, venue: str, endpoint: str, message: str) -> None:
        self.venue = venue
        self.endpoint = endpoint
        self.message = message
        super().__init__(f"{venue} {endpoint}: {message}")


class SchemaError(ExchangeError):
    """The venue answered, but not in the shape its docs promise: never a silent partial total."""

    def __init__(self, venue: str, endpoint: str, field: str, problem: str) -> None:
        self.field = field
        super().__init__(venue, endpoint, f"unexpected response: field {field!r} {problem}")


class VenueAPIError(ExchangeError):
    """The venue answered with an error code of its own (not a throttle)."""

    def __init__(self, venue: str, endpoint: str, code: str, message: str) -> None:
        self.code = code
        super().__init__(venue, endpoint, f"error {code}: {message}")


class TransientError(ExchangeError):
    """Timeout, connection failure, 5xx, throttling or an unreadable body: worth retrying."""

    retryable = True

    def __init__(self, venue: str, endpoint: str, message: str, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(venue, endpoint, message)


class ThrottledError(TransientError):
    """The venue said we are over its rate limit (HTTP 429 or its own throttle code)."""


class UnavailableError(ExchangeError):
    """Retries ran out; the last transient problem is in the message."""


class PartialAnswerError(ExchangeError):
    """The venue answered for fewer markets than it lists: summing it would shrink the total silently."""

    def __init__(self, venue: str, endpoint: str, missing: set[str], expected: int) -> None:
        self.missing = frozenset(missing)
        sample = ", ".join(sorted(missing)[:5]) + (", ..." if len(missing) > 5 else "")
        super().__init__(
            venue,
            endpoint,
            f"partial answer: {len(missing)} of {expected} markets it lists are missing ({sample}); "
            "not counted until the venue answers for all of them",
        )
