"""The accounts API conforms to its OpenAPI document (schemathesis), signed out and signed in."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import positive_data_acceptance

from core.settings import Settings
from tests.accounts.conftest import make_app

MINE = ("/api/keys", "/api/me/", "/public/account/")


@pytest.fixture
def api_schema(acc_settings: Settings, transport: httpx.AsyncBaseTransport) -> Iterator[Any]:
    # schemathesis calls the app as `http://testserver`.
    app = make_app(acc_settings.model_copy(update={"allowed_hosts": "testserver"}), transport)
    yield schemathesis.openapi.from_asgi("/openapi.json", app)
    asgi.shutdown_lifespans()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_accounts_api_conforms_to_its_openapi_schema(api_schema: Any, mode: GenerationMode) -> None:
    operations = [result.ok() for result in api_schema.get_all_operations()]
    mine = [op for op in operations if op.path.startswith(MINE)]
    assert len(mine) == 8
    assert not [op for op in operations if op.path.startswith(("/signin", "/signup", "/account"))]
    for operation in mine:
        if mode is GenerationMode.NEGATIVE and not list(operation.iter_parameters()):
            continue

        @given(case=operation.as_strategy(generation_mode=mode))
        @hypothesis_settings(
            max_examples=15, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck)
        )
        def check(case: Any) -> None:
            case.call_and_validate(excluded_checks=[positive_data_acceptance])

        try:
            check()
        except Unsatisfiable:
            # No schema-violating value exists for some operations (e.g. a free-form path token).
            assert mode is GenerationMode.NEGATIVE
