"""The accounts API conforms to its OpenAPI document (schemathesis), signed out and signed in: no 5xx,
every response as documented, bodies included (POST /api/keys with every kind of malformed key)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import positive_data_acceptance

from core.security import SESSION_COOKIE, new_token, token_hash
from core.settings import Settings
from storage.queries import users
from tests.accounts.conftest import make_app
from tests.exchanges_support import SIM_NOW

MINE = ("/api/keys", "/api/me/", "/public/account/")


@pytest.fixture
def api_schema(acc_settings: Settings, transport: httpx.AsyncBaseTransport) -> Iterator[Any]:
    # schemathesis calls the app as `http://testserver`.
    app = make_app(acc_settings.model_copy(update={"allowed_hosts": "testserver"}), transport)
    yield schemathesis.openapi.from_asgi("/openapi.json", app)
    asgi.shutdown_lifespans()


async def _session_cookie(db: asyncpg.Pool) -> dict[str, str]:
    """A signed-in user's cookie, as a browser would send it on this site's own requests."""
    user = await users.insert_user(db, "fuzz@example.com", "not-a-real-hash")
    assert user is not None
    token = new_token()
    await users.insert_session(db, token_hash(token), user.id, SIM_NOW, SIM_NOW + timedelta(days=30))
    return {"Cookie": f"{SESSION_COOKIE}={token}", "Sec-Fetch-Site": "same-origin"}


@pytest.mark.parametrize("signed_in", [False, True], ids=["signed-out", "signed-in"])
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
async def test_accounts_api_conforms_to_its_openapi_schema(
    api_schema: Any, db: asyncpg.Pool, mode: GenerationMode, signed_in: bool
) -> None:
    headers = await _session_cookie(db) if signed_in else {}
    operations = [result.ok() for result in api_schema.get_all_operations()]
    mine = [op for op in operations if op.path.startswith(MINE)]
    assert len(mine) == 8
    assert not [op for op in operations if op.path.startswith(("/signin", "/signup", "/account"))]
    statuses: dict[str, set[int]] = {}
    for operation in mine:
        if mode is GenerationMode.NEGATIVE and not list(operation.iter_parameters()) and not operation.body:
            continue
        seen = statuses.setdefault(f"{operation.method.upper()} {operation.path}", set())
        await asyncio.to_thread(_check_operation, operation, mode, headers, seen)
    if mode is GenerationMode.POSITIVE:
        # The run really was signed in (or out): the key list answered accordingly.
        assert statuses["GET /api/keys"] == ({200} if signed_in else {401})
        assert (401 in statuses["POST /api/keys"]) is not signed_in


def _check_operation(operation: Any, mode: GenerationMode, headers: dict[str, str], seen: set[int]) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @hypothesis_settings(
        max_examples=15, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck)
    )
    def check(case: Any) -> None:
        response = case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance])
        seen.add(response.status_code)

    try:
        check()
    except Unsatisfiable:
        # No schema-violating value exists for some operations (e.g. a free-form path token).
        assert mode is GenerationMode.NEGATIVE
