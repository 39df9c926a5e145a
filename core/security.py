"""Password hashing, credential encryption, session tokens and the cross-origin (CSRF) check.

Credentials are sealed with AES-256-GCM under a key derived from APP_SECRET_KEY with HKDF-SHA256; the
associated data binds each ciphertext to its key version, owner, venue and credential id, so a
ciphertext copied to another row or user fails to open. A fresh 96-bit random nonce per seal.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import os
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Protocol, TypeVar
from urllib.parse import urlsplit
from uuid import UUID

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

# argon2id, 64 MiB, 3 passes (argon2-cffi's RFC 9106 "low memory" profile): above OWASP's minimum of
# 19 MiB and 2 passes. About 165 ms here, so it always runs in a thread.
DEFAULT_HASHER = PasswordHasher(time_cost=3, memory_cost=65536, parallelism=4)
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024
SESSION_COOKIE = "perpvol_session"
# Over https the cookie is `__Host-` prefixed: browsers then accept it only with Secure, Path=/ and no
# Domain, so a sibling subdomain or a plain-http response cannot plant or overwrite it (ASVS 3.3.1).
SECURE_SESSION_COOKIE = f"__Host-{SESSION_COOKIE}"


def session_cookie_name(secure: bool) -> str:
    return SECURE_SESSION_COOKIE if secure else SESSION_COOKIE
NONCE_BYTES = 12
_HKDF_SALT = b"perpvol/credentials/v1"
T = TypeVar("T")


class HashingBusy(Exception):
    """Every hashing slot and queue place is taken: the caller answers 503 with Retry-After."""

    retry_after = 2


class Passwords:
    """argon2id hashing off the event loop; `verify` is False for a wrong password or a bad hash.

    At most `concurrency` hashes run at once per process (each holds 64 MiB and a core for ~165 ms) and
    at most `queue` more wait; beyond that `HashingBusy` is raised at once. Sixty concurrent sign-ins
    otherwise took every core and ~500 MiB, and the dashboard's pages waited behind them.
    """

    def __init__(
        self, hasher: PasswordHasher | None = None, *, concurrency: int | None = None, queue: int = 16
    ) -> None:
        self.hasher = hasher or DEFAULT_HASHER
        self.concurrency = concurrency or max(1, min(4, os.cpu_count() or 1))
        self.queue = queue
        self._slots = asyncio.Semaphore(self.concurrency)
        self._pending = 0
        self._dummy: str | None = None

    @property
    def pending(self) -> int:
        """Hashes running or waiting in this process."""
        return self._pending

    async def _run(self, work: Callable[[], T]) -> T:
        if self._pending >= self.concurrency + self.queue:
            raise HashingBusy
        self._pending += 1
        try:
            async with self._slots:
                return await asyncio.to_thread(work)
        finally:
            self._pending -= 1

    async def hash(self, password: str) -> str:
        return await self._run(lambda: self.hasher.hash(password))

    async def verify(self, password_hash: str, password: str) -> bool:
        def check() -> bool:
            try:
                return self.hasher.verify(password_hash, password)
            except (VerifyMismatchError, VerificationError, InvalidHashError):
                return False

        return await self._run(check)

    async def burn(self, password: str) -> None:
        """Spend the time of a verification for an unknown user, so timing does not tell who exists."""
        if self._dummy is None:
            self._dummy = await self.hash(secrets.token_urlsafe(16))
        await self.verify(self._dummy, password)

    def needs_rehash(self, password_hash: str) -> bool:
        try:
            return self.hasher.check_needs_rehash(password_hash)
        except InvalidHashError:
            return True


# The 10,000 most common passwords, most common first: the head of Django 5.2's
# django/contrib/auth/common-passwords.txt.gz (BSD-3-Clause; Royce Williams' list from breach corpora).
COMMON_PASSWORDS_FILE = Path(__file__).with_name("common-passwords.txt.gz")
# Words of this site: a password made of them is the first an attacker tries here.
CONTEXT_WORDS = ("perpvol", "perp vol")


@cache
def common_passwords() -> frozenset[str]:
    return frozenset(gzip.decompress(COMMON_PASSWORDS_FILE.read_bytes()).decode().splitlines())


def password_problem(password: str, email: str | None = None) -> str | None:
    """Why a new password is refused, or None (ASVS 6.2.1-6.2.4, 6.2.11-6.2.12): too short or long, one of
    the 10,000 most common, or made of the account's email or this site's name."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"the password needs at least {MIN_PASSWORD_LENGTH} characters"
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"the password may have at most {MAX_PASSWORD_LENGTH} characters"
    folded = password.strip().lower()
    if folded in common_passwords():
        return "that password is one of the 10,000 most common: choose another"
    if email:
        local = email.lower().partition("@")[0]
        if folded == email.lower() or email.lower() in folded or (len(local) >= 4 and local in folded):
            return "the password must not contain your email address"
    if any(word in folded for word in CONTEXT_WORDS):
        return "the password must not contain this site's name"
    return None


def normalize_email(value: str) -> str | None:
    """The address lower-cased, or None when it cannot be one (control characters such as NUL never
    reach PostgreSQL, which refuses them in text)."""
    email = value.strip().lower()
    local, _, domain = email.partition("@")
    if not local or "." not in domain or len(email) > 254 or not printable(email) or " " in email:
        return None
    return email


def printable(value: str) -> bool:
    """No control, format or separator characters other than the ASCII space (no NUL, CR, LF, TAB,
    VT, no-break or zero-width spaces)."""
    return value.isprintable()


def local_path(target: object) -> str | None:
    """`target` when it is a path on this site, else None: never a redirect to another site.

    Browsers drop TAB/CR/LF inside URLs and read a backslash as `/`, so `/` TAB `/evil.example` becomes
    the protocol-relative `//evil.example`: any such character refuses the target outright.
    """
    if not isinstance(target, str) or not target.startswith("/") or len(target) > 2000:
        return None
    if not printable(target) or "\\" in target or target.startswith("//"):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


# ---- sessions ------------------------------------------------------------------------------------


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


# ---- credential encryption ------------------------------------------------------------------------


class CredentialDecryptError(Exception):
    """A ciphertext did not open: wrong secret, wrong key version, or moved to another row."""


@dataclass(frozen=True, slots=True)
class Sealed:
    key_version: int
    nonce: bytes
    ciphertext: bytes

    def __repr__(self) -> str:
        return f"Sealed(key_version={self.key_version}, {len(self.ciphertext)} bytes)"


def _hkdf(secret: str, info: bytes) -> bytes:
    if not secret:
        raise ValueError("APP_SECRET_KEY is empty")
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=_HKDF_SALT, info=info).derive(secret.encode())


def secret_fingerprint(secret: str) -> str:
    """Names a secret without revealing it or the key derived from it (a different HKDF output)."""
    return _hkdf(secret, b"perpvol fingerprint").hex()[:16]


def associated_data(key_version: int, user_id: int, exchange: str, credential_id: UUID) -> bytes:
    return f"perpvol-credential|v{key_version}|user:{user_id}|{exchange}|{credential_id}".encode()


class CredentialCipher:
    """Seals and opens credential fields (a str -> str mapping) under one secret's key version."""

    def __init__(self, secret: str, key_version: int) -> None:
        self.key_version = key_version
        self.fingerprint = secret_fingerprint(secret)
        self._aead = AESGCM(_hkdf(secret, b"perpvol aes-256-gcm credentials"))

    def __repr__(self) -> str:
        return f"CredentialCipher(key_version={self.key_version})"

    def seal(self, fields: Mapping[str, str], user_id: int, exchange: str, credential_id: UUID) -> Sealed:
        nonce = os.urandom(NONCE_BYTES)
        ad = associated_data(self.key_version, user_id, exchange, credential_id)
        plaintext = json.dumps(dict(fields), separators=(",", ":")).encode()
        return Sealed(self.key_version, nonce, self._aead.encrypt(nonce, plaintext, ad))

    def open(self, sealed: Sealed, user_id: int, exchange: str, credential_id: UUID) -> dict[str, str]:
        if sealed.key_version != self.key_version:
            raise CredentialDecryptError(
                f"credential {credential_id} is sealed under key version {sealed.key_version}, this "
                f"process holds version {self.key_version}: run `perpvol rotate-secret` or restart "
                "with the APP_SECRET_KEY it was rotated to"
            )
        ad = associated_data(sealed.key_version, user_id, exchange, credential_id)
        try:
            plaintext = self._aead.decrypt(sealed.nonce, sealed.ciphertext, ad)
        except InvalidTag:
            raise CredentialDecryptError(
                f"credential {credential_id} does not open with this secret for this owner and venue"
            ) from None
        fields: dict[str, str] = json.loads(plaintext)
        return fields


class CredentialSealer(Protocol):
    """What seals and opens credentials: one secret's cipher, or a keyring of the current and
    previous secrets (during a rotation)."""

    @property
    def key_version(self) -> int: ...

    def seal(self, fields: Mapping[str, str], user_id: int, exchange: str, credential_id: UUID) -> Sealed: ...

    def open(self, sealed: Sealed, user_id: int, exchange: str, credential_id: UUID) -> dict[str, str]: ...


class Keyring:
    """Seals under the current secret's version; opens any version it holds (the previous secret's
    too), so web and workers work on both sides of a rotation."""

    def __init__(self, current: CredentialCipher, others: Iterable[CredentialCipher] = ()) -> None:
        self.current = current
        self.ciphers = {c.key_version: c for c in others} | {current.key_version: current}

    def __repr__(self) -> str:
        return f"Keyring(current={self.current.key_version}, versions={sorted(self.ciphers)})"

    @property
    def key_version(self) -> int:
        return self.current.key_version

    def seal(self, fields: Mapping[str, str], user_id: int, exchange: str, credential_id: UUID) -> Sealed:
        return self.current.seal(fields, user_id, exchange, credential_id)

    def open(self, sealed: Sealed, user_id: int, exchange: str, credential_id: UUID) -> dict[str, str]:
        cipher = self.ciphers.get(sealed.key_version, self.current)
        return cipher.open(sealed, user_id, exchange, credential_id)


def mask(value: str) -> str:
    """What a user sees of a saved key: its last four characters."""
    return "…" + value[-4:] if len(value) > 8 else "…"


# ---- cross-origin request check ------------------------------------------------------------------

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


def cross_origin_problem(
    method: str, headers: Mapping[str, str], host: str, *, with_session: bool = False
) -> str | None:
    """Why an unsafe request must be refused as cross-site, or None.

    The algorithm of Go 1.25's `http.CrossOriginProtection` (and datasette): browsers send
    `Sec-Fetch-Site` on every request; older ones send `Origin` on cross-origin POSTs. A request with
    neither comes from a non-browser client; it may sign up or sign in, but one that carries a session
    cookie is refused (fail closed: a browser old or odd enough to send neither could be riding on a
    victim's cookie). Scripts using the API send `Sec-Fetch-Site: same-origin` or their `Origin`.
    """
    if method.upper() in SAFE_METHODS:
        return None
    site = headers.get("Sec-Fetch-Site")
    if site is not None:
        return None if site in ("same-origin", "none") else f"cross-site request (Sec-Fetch-Site: {site})"
    origin = headers.get("Origin")
    if origin is None:
        if with_session:
            return "a signed-in request without Origin or Sec-Fetch-Site"
        return None
    # Like Go, compare hosts only: behind a TLS-terminating proxy the app may see http.
    if urlsplit(origin).netloc.lower() == host.lower():
        return None
    return f"cross-origin request from {origin}"
