"""`perpvol user create` and `perpvol rotate-secret`: operator commands over the accounts tables."""

from __future__ import annotations

import asyncpg

from webapp.queries import _db, credentials, users
from webapp.security import (
    CredentialCipher,
    CredentialDecryptError,
    Passwords,
    password_problem,
    secret_fingerprint,
)
from webapp.views.auth import normalize_email


class CommandError(Exception):
    """A problem the operator can fix; the message says how."""


async def create_user(
    pool: asyncpg.Pool, email: str, password: str, passwords: Passwords | None = None
) -> int:
    normalized = normalize_email(email)
    if normalized is None:
        raise CommandError(f"not an email address: {email!r}")
    problem = password_problem(password)
    if problem:
        raise CommandError(problem)
    user = await users.insert_user(pool, normalized, await (passwords or Passwords()).hash(password))
    if user is None:
        raise CommandError(f"{normalized} already has an account")
    return user.id


async def rotate_secret(pool: asyncpg.Pool, old_secret: str, new_secret: str) -> tuple[int, int]:
    """Re-encrypt every credential from `old_secret` to `new_secret` in one transaction.

    Every credential is opened before anything is written: one that does not open under the old secret
    aborts the whole rotation (nothing changes), so no credential is ever lost. Returns (count, version).
    """
    if not new_secret or new_secret == old_secret:
        raise CommandError("the new secret must be set and differ from the current APP_SECRET_KEY")
    async with _db.transaction(pool) as conn:
        old_version = await credentials.select_key_version(conn, secret_fingerprint(old_secret))
        rows = await credentials.select_all_sealed_for_update(conn)
        if old_version is None and rows:
            raise CommandError("APP_SECRET_KEY is not the secret the stored credentials were sealed with")
        old = CredentialCipher(old_secret, old_version or 0)
        opened = []
        for row, sealed in rows:
            try:
                opened.append((row, old.open(sealed, row.user_id, row.exchange, row.id)))
            except CredentialDecryptError as exc:
                raise CommandError(f"rotation aborted, nothing changed: {exc}") from None
        version = await credentials.insert_key_version(conn, secret_fingerprint(new_secret))
        new = CredentialCipher(new_secret, version)
        for row, fields in opened:
            await credentials.update_sealed(conn, row.id, new.seal(fields, row.user_id, row.exchange, row.id))
    return len(opened), version
