"""Credential encryption, key versions and rotation, the cross-origin rule, password hashing, and the
venues' documented signature test vectors."""

from __future__ import annotations

from uuid import uuid4

import asyncpg
import pytest

from cli.commands.accounts import CommandError, rotate_secret
from core.security import (
    DEFAULT_HASHER,
    CredentialCipher,
    CredentialDecryptError,
    Sealed,
    cross_origin_problem,
    secret_fingerprint,
)
from exchanges.private import bybit, woox
from exchanges.private.base import ApiCredential
from storage.credential_keys import load_keyring
from storage.queries import credentials
from tests.accounts.conftest import SECRET
from tests.accounts.support import new_user, store_credential


def test_bybit_signature_uses_the_docs_string_to_sign() -> None:
    # https://bybit-exchange.github.io/docs/v5/guide#create-a-request: the string-to-sign example.
    payload = bybit.query_string([("category", "option"), ("symbol", "BTC-29JUL22-25000-C")])
    origin = "1658384314791" + "XXXXXXXXXX" + "5000" + payload
    assert origin == "1658384314791XXXXXXXXXX5000category=option&symbol=BTC-29JUL22-25000-C"
    import hashlib
    import hmac

    expected = hmac.new(b"secret", origin.encode(), hashlib.sha256).hexdigest()
    assert bybit.sign("secret", "1658384314791", "XXXXXXXXXX", "5000", payload) == expected


def test_bybit_cursor_is_sent_once_encoded() -> None:
    assert bybit.query_string([("cursor", "132766%3A2%2C132766%3A2")]) == "cursor=132766%3A2%2C132766%3A2"


def test_woox_signature_matches_the_docs_vector() -> None:
    # developer.woox.io V3 authentication example.
    signature = woox.sign("QHKRXHPAW1MC9YGZMAT8YDJG2HPR", "1578565539808", "GET", "/v3/algo/orders?algoType=STOP")
    assert signature == "fddab579aff8c193f920c2d4f0cda6a21a60f06fd9c3916541ecc4f6461f5977"


def test_woox_executed_timestamp_in_seconds_or_milliseconds() -> None:
    assert woox.executed_at("1752055173.630") == woox.executed_at(1752055173630)
    assert woox.executed_at("1752055173.630").microsecond == 630_000


def test_password_hashing_meets_owasp_minimum() -> None:
    assert DEFAULT_HASHER.memory_cost >= 19 * 1024 and DEFAULT_HASHER.time_cost >= 2
    assert DEFAULT_HASHER.type.name == "ID"


def test_credential_repr_never_shows_secrets() -> None:
    credential = ApiCredential("the-key", "the-secret")
    assert "the-secret" not in repr(credential) and "the-key" not in repr(credential)


def test_sealed_credential_is_bound_to_owner_venue_and_id() -> None:
    cipher = CredentialCipher(SECRET, 1)
    cid = uuid4()
    sealed = cipher.seal({"key": "k", "secret": "s"}, 7, "bybit", cid)
    assert cipher.open(sealed, 7, "bybit", cid) == {"key": "k", "secret": "s"}
    for user, venue, other in ((8, "bybit", cid), (7, "woox", cid), (7, "bybit", uuid4())):
        with pytest.raises(CredentialDecryptError):
            cipher.open(sealed, user, venue, other)
    with pytest.raises(CredentialDecryptError):
        CredentialCipher("another-secret", 1).open(sealed, 7, "bybit", cid)
    with pytest.raises(CredentialDecryptError):
        cipher.open(Sealed(2, sealed.nonce, sealed.ciphertext), 7, "bybit", cid)
    assert cipher.seal({"key": "k"}, 7, "bybit", cid).nonce != cipher.seal({"key": "k"}, 7, "bybit", cid).nonce


async def test_ciphertext_swapped_between_rows_fails_to_open(db: asyncpg.Pool) -> None:
    cipher = await load_keyring(db, SECRET)
    alice, bob = await new_user(db, "alice@example.com"), await new_user(db, "bob@example.com")
    a = await store_credential(db, cipher, alice, "bybit", "AliceKey000001", "alice-secret")
    b = await store_credential(db, cipher, bob, "bybit", "BobKey00000001", "bob-secret")
    # An attacker with write access copies Alice's ciphertext into Bob's row.
    await db.execute(
        """
        UPDATE credentials SET nonce = a.nonce, ciphertext = a.ciphertext
        FROM credentials a WHERE a.id = $1 AND credentials.id = $2
        """,
        a,
        b,
    )
    found = await credentials.select_sealed(db, b)
    assert found is not None
    row, sealed = found
    with pytest.raises(CredentialDecryptError):
        cipher.open(sealed, row.user_id, row.exchange, row.id)


async def test_rotation_keeps_every_credential_readable(db: asyncpg.Pool) -> None:
    cipher = await load_keyring(db, SECRET)
    stored = {}
    for n in range(5):
        user = await new_user(db, f"user{n}@example.com")
        for venue in ("bybit", "woox"):
            cid = await store_credential(db, cipher, user, venue, f"Key{venue}{n:08d}", f"secret-{venue}-{n}")
            stored[cid] = f"secret-{venue}-{n}"

    count, version = await rotate_secret(db, SECRET, "a-brand-new-secret-value-xyz")

    assert count == 10 and version == cipher.key_version + 1
    new = await load_keyring(db, "a-brand-new-secret-value-xyz")
    assert new.key_version == version
    for cid, secret in stored.items():
        found = await credentials.select_sealed(db, cid)
        assert found is not None
        row, sealed = found
        assert new.open(sealed, row.user_id, row.exchange, row.id)["secret"] == secret
        with pytest.raises(CredentialDecryptError):
            cipher.open(sealed, row.user_id, row.exchange, row.id)
    assert await credentials.count_by_key_version(db) == {version: 10}


async def test_rotation_with_the_wrong_current_secret_changes_nothing(db: asyncpg.Pool) -> None:
    cipher = await load_keyring(db, SECRET)
    user = await new_user(db, "x@example.com")
    cid = await store_credential(db, cipher, user, "bybit", "SomeKey0000001", "s")
    before = await credentials.select_sealed(db, cid)
    with pytest.raises(CommandError):
        await rotate_secret(db, "not-the-current-secret", "new-secret-123456")
    assert await credentials.select_sealed(db, cid) == before
    assert await credentials.select_key_version(db, secret_fingerprint("new-secret-123456")) is None


@pytest.mark.parametrize(
    ("method", "headers", "refused"),
    [
        ("GET", {"Sec-Fetch-Site": "cross-site"}, False),
        ("POST", {"Sec-Fetch-Site": "same-origin"}, False),
        ("POST", {"Sec-Fetch-Site": "none"}, False),
        ("POST", {"Sec-Fetch-Site": "same-site"}, True),
        ("DELETE", {"Sec-Fetch-Site": "cross-site"}, True),
        ("POST", {"Origin": "https://perpvol.example"}, False),
        ("POST", {"Origin": "https://evil.example"}, True),
        ("PUT", {"Origin": "null"}, True),
        ("POST", {}, False),  # not a browser: cannot carry a victim's cookies
    ],
)
def test_cross_origin_rule(method: str, headers: dict[str, str], refused: bool) -> None:
    assert (cross_origin_problem(method, headers, "perpvol.example") is not None) == refused
