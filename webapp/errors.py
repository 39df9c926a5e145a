"""Errors as JSON values: every client mistake is a 4xx `{"error": "...", "detail": ...}`, never a 500.

`ApiError` is what views raise for input they reject; `register_error_handlers` maps it, quart-schema's
validation errors, Werkzeug's HTTP errors and an unavailable database to JSON bodies.
"""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
from pydantic import BaseModel, ValidationError
from quart import Quart, Response, jsonify, render_template, request
from quart_schema import RequestSchemaValidationError
from redis.exceptions import RedisError
from werkzeug.exceptions import HTTPException

from core.security import HashingBusy

log = logging.getLogger(__name__)


class ErrorBody(BaseModel):
    """What every error response carries: a short machine-readable `error` and a human `detail`."""

    error: str
    detail: Any = None


class ApiError(Exception):
    """Input a view rejects; `error` is a stable code, `detail` says what to change."""

    def __init__(self, status: int, error: str, detail: Any = None, headers: dict[str, str] | None = None):
        super().__init__(f"{status} {error}: {detail}")
        self.status = status
        self.error = error
        self.detail = detail
        self.headers = headers or {}


def bad_request(error: str, detail: Any) -> ApiError:
    return ApiError(400, error, detail)


def error_response(
    status: int, error: str, detail: Any = None, headers: dict[str, str] | None = None
) -> Response:
    response = jsonify({"error": error, "detail": detail})
    response.status_code = status
    response.headers.update(headers or {})
    return response


def validation_detail(exc: Exception) -> Any:
    """Pydantic's errors without URLs or exception objects, so the detail is always JSON."""
    if isinstance(exc, ValidationError):
        return [
            {"loc": [str(part) for part in e["loc"]], "msg": e["msg"], "type": e["type"]}
            for e in exc.errors(include_url=False, include_context=False, include_input=False)
        ]
    return str(exc)


# Machine surfaces answer JSON whatever the client accepts: a script that mistypes a path gets a body it
# can parse.
JSON_PREFIXES = ("/api/", "/public/", "/openapi.json", "/healthz", "/readyz", "/ws/", "/live/", "/widget", "/static/")


def wants_html_page() -> bool:
    """A browser asking for a page (not the API, not a client that prefers JSON)."""
    if request.path.startswith(JSON_PREFIXES) or request.headers.get("HX-Request"):
        return False
    accept = request.accept_mimetypes
    return accept.quality("text/html") > accept.quality("application/json")


def register_error_handlers(app: Quart) -> None:
    @app.errorhandler(ApiError)
    async def _api_error(exc: ApiError) -> Response:
        return error_response(exc.status, exc.error, exc.detail, exc.headers)

    @app.errorhandler(RequestSchemaValidationError)
    async def _invalid_request(exc: RequestSchemaValidationError) -> Response:
        return error_response(400, "invalid_request", validation_detail(exc.validation_error))

    @app.errorhandler(HTTPException)
    async def _http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        if status == 404 and wants_html_page():
            html = await render_template("pages/not_found.html", path=request.path)
            return Response(html, status=404, mimetype="text/html")
        name = (exc.name or "error").lower().replace(" ", "_")
        allowed = getattr(exc, "valid_methods", None)
        headers = {"Allow": ", ".join(allowed)} if allowed else {}
        return error_response(status, name, exc.description, headers)

    @app.errorhandler(HashingBusy)
    async def _busy(exc: HashingBusy) -> Response:
        return error_response(
            503,
            "busy",
            "too many sign-ins at once here; retry in a moment",
            {"Retry-After": str(exc.retry_after)},
        )

    @app.errorhandler(asyncpg.DataError)
    async def _bad_value(exc: asyncpg.DataError) -> Response:
        # A value PostgreSQL refuses (NUL in text, an out-of-range number) that slipped past a view's
        # checks is still the client's input: a 400, never a 500.
        log.warning("value refused by PostgreSQL: %s", type(exc).__name__)
        return error_response(400, "invalid_value", "a value in the request cannot be stored")

    @app.errorhandler(asyncpg.PostgresConnectionError)
    @app.errorhandler(asyncpg.exceptions.OperatorInterventionError)
    @app.errorhandler(asyncpg.exceptions.InsufficientResourcesError)
    @app.errorhandler(asyncpg.InterfaceError)
    @app.errorhandler(ConnectionError)
    @app.errorhandler(RedisError)
    @app.errorhandler(TimeoutError)
    async def _unavailable(exc: Exception) -> Response:
        log.warning("storage unavailable: %s", exc)
        return error_response(
            503, "unavailable", "the database or Redis is not answering; retry shortly", {"Retry-After": "5"}
        )

    @app.errorhandler(Exception)
    async def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled error")
        return error_response(500, "internal_error", "an unexpected error; it has been logged")
