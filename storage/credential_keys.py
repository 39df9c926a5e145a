"""Which secrets a process holds, checked against the stored credentials before it serves or works.

- A secret that opens none of the stored credentials stops start-up (web and worker): a mistyped or
  lost APP_SECRET_KEY used to register itself silently as a new key version.
- During a rotation the process holds the current secret and APP_SECRET_KEY_PREVIOUS: it opens both
  versions and seals only under the current one, and `reseal_to_current` moves every credential and TOTP
  secret still under the previous version (e.g. one saved by a web process that had not restarted yet) to the current.
"""

from __future__ import annotations

import logging

import asyncpg

from core.security import CredentialCipher, CredentialDecryptError, Keyring, secret_fingerprint
from core.totp import open_secret, seal_secret
from storage.queries import credentials, totp

log = logging.getLogger("perpvol.credential_keys")


class SecretMismatch(Exception):
    """APP_SECRET_KEY (and APP_SECRET_KEY_PREVIOUS) open none of the stored credentials."""


async def load_keyring(pool: asyncpg.Pool, secret: str, previous: str | None = None) -> Keyring:
    """The keyring of `secret` (the current one) and `previous`; registers `secret`'s key version
    when it is new and nothing stored needs another one."""
    stored = await credentials.count_by_key_version(pool)
    previous_cipher = None
    if previous:
        version = await credentials.select_key_version(pool, secret_fingerprint(previous))
        if version is not None:
            previous_cipher = CredentialCipher(previous, version)
    current_version = await credentials.select_key_version(pool, secret_fingerprint(secret))
    held = {c.key_version for c in (previous_cipher,) if c} | ({current_version} if current_version else set())
    if stored and not held & set(stored):
        total = sum(stored.values())
        raise SecretMismatch(
            f"APP_SECRET_KEY opens none of the {total} stored exchange credential(s) (sealed under key "
            f"version(s) {sorted(stored)}): start with the secret they were saved with. To change it, "
            "run `perpvol rotate-secret`, or set the old one as APP_SECRET_KEY_PREVIOUS next to the new one."
        )
    if current_version is None:
        current_version = await credentials.insert_key_version(pool, secret_fingerprint(secret))
    keyring = Keyring(CredentialCipher(secret, current_version), [previous_cipher] if previous_cipher else [])
    unreadable = {v: n for v, n in stored.items() if v not in keyring.ciphers}
    if unreadable:
        log.warning(
            "%d credential(s) are sealed under key version(s) %s that this process cannot open; "
            "set APP_SECRET_KEY_PREVIOUS to the secret they were saved with",
            sum(unreadable.values()),
            sorted(unreadable),
        )
    return keyring


async def reseal_to_current(pool: asyncpg.Pool, keyring: Keyring) -> int:
    """Re-seal every credential and TOTP secret the keyring opens but not under its current version;
    the number moved.

    Each row is updated only if it still has the version it was read with, so a concurrent rotation
    or re-seal never overwrites newer ciphertext."""
    moved = 0
    for row, sealed in await credentials.select_sealed_not_at_version(pool, keyring.key_version):
        if sealed.key_version not in keyring.ciphers:
            continue
        try:
            fields = keyring.open(sealed, row.user_id, row.exchange, row.id)
        except CredentialDecryptError as exc:
            log.warning("cannot re-seal credential %s: %s", row.id, exc)
            continue
        new = keyring.seal(fields, row.user_id, row.exchange, row.id)
        moved += await credentials.update_sealed_from(pool, row.id, sealed.key_version, new)
    for factor in await totp.select_not_at_version(pool, keyring.key_version):
        if factor.sealed.key_version not in keyring.ciphers:
            continue
        try:
            secret = open_secret(keyring, factor.sealed, factor.user_id)
        except CredentialDecryptError as exc:
            log.warning("cannot re-seal the TOTP secret of user %d: %s", factor.user_id, exc)
            continue
        new_sealed = seal_secret(keyring, secret, factor.user_id)
        moved += await totp.update_sealed_from(pool, factor.user_id, factor.sealed.key_version, new_sealed)
    if moved:
        log.info("re-sealed %d credential(s) or TOTP secret(s) under key version %d", moved, keyring.key_version)
    return moved
