"""The private-client interface: what the account sync needs from each venue, and its records.

A client is made for one credential. Secrets live in `ApiCredential`, whose repr never shows them, and
are used only to sign requests; errors and logs name the venue and endpoint, never the key.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import ClassVar, Literal

from core.records import Fill
from exchanges.base import Exchange
from exchanges.errors import ExchangeError
from exchanges.http import VenueClient

# Re-exported: the private clients build fills; storage (queries/fills) writes them.
__all__ = ["Fill"]

Clock = Callable[[], datetime]
CredentialStatus = Literal["expired", "revoked", "invalid", "permission"]


@dataclass(frozen=True, slots=True)
class ApiCredential:
    """What a user pasted: an API key and secret, a wallet address, or a read-only token (in `key`)."""

    key: str = field(repr=False)
    secret: str = field(default="", repr=False)

    def __repr__(self) -> str:
        return "ApiCredential(…)"

    def fields(self) -> dict[str, str]:
        return {"key": self.key, "secret": self.secret}

    @classmethod
    def from_fields(cls, fields: dict[str, str]) -> ApiCredential:
        return cls(fields["key"], fields.get("secret", ""))


@dataclass(frozen=True, slots=True)
class KeyCheck:
    """What the venue says about a key. `permissions` in the venue's own words."""

    permissions: tuple[str, ...]
    can_trade: bool
    can_withdraw: bool
    expires_at: datetime | None = None
    note: str | None = None

    @property
    def read_only(self) -> bool:
        return not (self.can_trade or self.can_withdraw)


class CredentialError(ExchangeError):
    """The venue refused the credential itself: expired, revoked, invalid or without permission."""

    def __init__(self, venue: str, endpoint: str, status: CredentialStatus, message: str) -> None:
        self.status = status
        super().__init__(venue, endpoint, message)


class PrivateClient(abc.ABC):
    """A thin, typed translation of one venue's private endpoints, for one credential."""

    name: ClassVar[Exchange]
    # Independent fill histories (e.g. Bybit linear and inverse), each synced with its own cursor.
    streams: ClassVar[tuple[str, ...]] = ("fills",)
    # The widest time range one `fetch_fills` may ask for (Bybit: 7 days).
    window: ClassVar[timedelta] = timedelta(days=30)
    # How far back the venue serves a user's fills.
    lookback: ClassVar[timedelta] = timedelta(days=730)
    how_to_read_only: ClassVar[str] = ""

    def __init__(self, client: VenueClient, credential: ApiCredential, *, clock: Clock | None = None) -> None:
        self.client = client
        self.credential = credential
        self.clock: Clock = clock or (lambda: datetime.now(UTC))

    @staticmethod
    def credential_problem(credential: ApiCredential) -> str | None:
        """A format problem a user can fix before the venue is asked, or None."""
        return None

    @abc.abstractmethod
    async def check_key(self) -> KeyCheck:
        """Ask the venue whether the key works and what it may do."""

    @abc.abstractmethod
    async def fetch_fills(self, stream: str, start: datetime, end: datetime) -> list[Fill]:
        """Every perp fill of `stream` executed in [start, end), all pages; `end - start <= window`."""

    async def aclose(self) -> None:
        await self.client.aclose()

    def now_ms(self) -> int:
        return int(self.clock().timestamp() * 1000)


def ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def from_ms(value: int | str) -> datetime:
    return datetime.fromtimestamp(int(value) / 1000, tz=UTC)
