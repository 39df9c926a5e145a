"""`perpvol user create`, `perpvol user reset-password` and `perpvol rotate-secret`: operator commands
over the accounts tables."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import secrets
import sys
from collections.abc import Awaitable, Callable

import asyncpg

from cli.commands.accounts_args import NEW_SECRET_ENV
from core.secret_strength import secret_problem
from core.security import (
    CredentialCipher,
    CredentialDecryptError,
    Keyring,
    Passwords,
    normalize_email,
    password_problem,
    secret_fingerprint,
)
from core.settings import Settings
from core.totp import open_secret, seal_secret
from storage.db import create_pool
from storage.queries import _db, credentials, totp, users


class CommandError(Exception):
    """A problem the operator can fix; the message says how."""


async def create_user(pool: asyncpg.Pool, email: str, password: str, passwords: Passwords | None = None) -> int:
    normalized = normalize_email(email)
    if normalized is None:
        raise CommandError(f"not an email address: {email!r}")
    problem = password_problem(password, normalized)
    if problem:
        raise CommandError(problem)
    user = await users.insert_user(pool, normalized, await (passwords or Passwords()).hash(password))
    if user is None:
        raise CommandError(f"{normalized} already has an account")
    return user.id


async def reset_password(
    pool: asyncpg.Pool, email: str, password: str, passwords: Passwords | None = None, *, clear_totp: bool = False
) -> int:
    """Give the user `password` and end all their sessions; how many sessions ended. With `clear_totp`
    the TOTP second factor and its recovery codes are removed too (a user who lost phone and codes)."""
    normalized = normalize_email(email)
    login = await users.select_user_login(pool, normalized) if normalized else None
    if login is None or normalized is None:
        raise CommandError(f"no account for {email.strip()!r}")
    problem = password_problem(password, normalized)
    if problem:
        raise CommandError(problem)
    await users.update_password_hash(pool, login.user.id, await (passwords or Passwords()).hash(password))
    if clear_totp:
        await totp.delete_totp(pool, login.user.id)
    return await users.delete_user_sessions(pool, login.user.id)


async def rotate_secret(
    pool: asyncpg.Pool, old_secret: str, new_secret: str, previous: str | None = None
) -> tuple[int, int]:
    """Re-encrypt every credential and TOTP secret from `old_secret` (or `previous`, for credentials a
    rotation left behind) to `new_secret` in one transaction.

    Every credential and enabled TOTP secret is opened before anything is written: one that does not
    open aborts the whole rotation (nothing changes), so none is ever lost. An unconfirmed TOTP
    enrolment that does not open is dropped (the user starts it again). Returns (count of credentials,
    version).
    """
    if not new_secret or new_secret == old_secret:
        raise CommandError("the new secret must be set and differ from the current APP_SECRET_KEY")
    problem = secret_problem(new_secret, NEW_SECRET_ENV)
    if problem:
        raise CommandError(problem)
    async with _db.transaction(pool) as conn:
        ciphers = []
        for secret in (old_secret, previous):
            version = await credentials.select_key_version(conn, secret_fingerprint(secret)) if secret else None
            if secret and version is not None:
                ciphers.append(CredentialCipher(secret, version))
        rows = await credentials.select_all_sealed_for_update(conn)
        opened = []
        if rows:
            if not ciphers:
                raise CommandError("APP_SECRET_KEY is not the secret the stored credentials were sealed with")
            old = Keyring(ciphers[0], ciphers[1:])
            for row, sealed in rows:
                try:
                    opened.append((row, old.open(sealed, row.user_id, row.exchange, row.id)))
                except CredentialDecryptError as exc:
                    raise CommandError(f"rotation aborted, nothing changed: {exc}") from None
        factors = await totp.select_all_for_update(conn)
        secrets_opened: list[tuple[int, str]] = []
        for factor in factors:
            try:
                if not ciphers:
                    raise CredentialDecryptError("APP_SECRET_KEY is not the secret TOTP secrets were sealed with")
                old_ring = Keyring(ciphers[0], ciphers[1:])
                secrets_opened.append((factor.user_id, open_secret(old_ring, factor.sealed, factor.user_id)))
            except CredentialDecryptError as exc:
                if factor.enabled:
                    raise CommandError(f"rotation aborted, nothing changed: {exc}") from None
                await totp.delete_totp(conn, factor.user_id)
        version = await credentials.insert_key_version(conn, secret_fingerprint(new_secret))
        new = CredentialCipher(new_secret, version)
        for row, fields in opened:
            await credentials.update_sealed(conn, row.id, new.seal(fields, row.user_id, row.exchange, row.id))
        for user_id, secret in secrets_opened:
            await totp.update_sealed(conn, user_id, seal_secret(new, secret, user_id))
    return len(opened), version


# ---- command line -----------------------------------------------------------------------------------


def run(args: argparse.Namespace, settings: Settings) -> int:
    from cli.commands.run import resolve

    resolved, services = resolve(settings)
    try:
        if args.command == "user" and args.user_command == "reset-password":
            return asyncio.run(_with_pool(resolved, lambda pool: _reset(pool, args)))
        if args.command == "user":
            return asyncio.run(_with_pool(resolved, lambda pool: _create(pool, args)))
        return asyncio.run(_with_pool(resolved, lambda pool: _rotate(pool, settings)))
    except CommandError as exc:
        print(f"perpvol: error: {exc}", file=sys.stderr)
        return 2
    finally:
        services.close()


async def _with_pool(settings: Settings, action: Callable[[asyncpg.Pool], Awaitable[int]]) -> int:
    pool = await create_pool(settings.database_url or "", min_size=1, max_size=2)
    try:
        return await action(pool)
    finally:
        await pool.close()


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    password = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != password:
        raise CommandError("the passwords differ")
    return password


async def _create(pool: asyncpg.Pool, args: argparse.Namespace) -> int:
    user_id = await create_user(pool, args.email, _read_password(args))
    print(f"created user {user_id} ({args.email.strip().lower()})")
    return 0


async def _reset(pool: asyncpg.Pool, args: argparse.Namespace) -> int:
    ended = await reset_password(pool, args.email, _read_password(args), clear_totp=args.clear_totp)
    cleared = "; two-factor sign-in removed" if args.clear_totp else ""
    print(f"password of {args.email.strip().lower()} reset; {ended} session(s) ended{cleared}")
    return 0


async def _rotate(pool: asyncpg.Pool, settings: Settings) -> int:
    if settings.app_secret_key is None:
        raise CommandError("APP_SECRET_KEY is not set: it must hold the current secret")
    new_secret = os.environ.get(NEW_SECRET_ENV, "")
    generated = not new_secret
    if generated:
        new_secret = secrets.token_urlsafe(48)
    previous = settings.app_secret_key_previous
    count, version = await rotate_secret(
        pool,
        settings.app_secret_key.get_secret_value(),
        new_secret,
        previous.get_secret_value() if previous else None,
    )
    print(f"re-encrypted {count} credential(s) under key version {version}.")
    if generated:
        print(f"New secret (store it now, it is not saved anywhere):\n  APP_SECRET_KEY={new_secret}")
    print(
        "Set APP_SECRET_KEY to the new secret and APP_SECRET_KEY_PREVIOUS to the old one, and restart the "
        "web app and workers: a key saved by a process still on the old secret is re-sealed by the worker "
        "(it logs `re-sealed`). Then remove APP_SECRET_KEY_PREVIOUS."
    )
    return 0
