"""Security headers on every response: a strict Content-Security-Policy (no inline or eval'd scripts,
no inline styles), no framing, no MIME sniffing; HSTS when the request came over https.

The dashboard needs nothing more: scripts and styles are files under /static, charts use vega's
expression interpreter (no `eval`), and chart data sits in `<script type="application/json">`, which
is never executed. The one exception is the OpenAPI page (`/docs`), whose HTML quart-schema generates
with an inline start-up script: its hash is allowed on that page only.
"""

from __future__ import annotations

import base64
import hashlib
import re

from quart import Quart, Response, request

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
DOCS_PATHS = frozenset({"/docs"})
_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.S | re.I)

HSTS = "max-age=31536000; includeSubDomains"
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


def script_hashes(html: bytes) -> list[str]:
    """CSP source expressions (`'sha256-…'`) for each inline script of a trusted page."""
    return [
        "'sha256-" + base64.b64encode(hashlib.sha256(body).digest()).decode() + "'"
        for body in _INLINE_SCRIPT.findall(html)
    ]


async def docs_policy(response: Response) -> str:
    html = await response.get_data(as_text=False)
    hashes = " ".join(script_hashes(html))
    # Swagger UI sets style attributes as it renders; allowed on this page only.
    return CSP.replace("script-src 'self'", f"script-src 'self' {hashes}").replace(
        "style-src 'self'", "style-src 'self' 'unsafe-inline'"
    )


def register_security_headers(app: Quart) -> None:
    @app.after_request
    async def _security_headers(response: Response) -> Response:
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        if request.scheme == "https":
            # Over https only (directly, or from a trusted proxy that says so): browsers then refuse
            # plain http to this host and its subdomains for a year (ASVS 3.4.1).
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        if "Content-Security-Policy" not in response.headers:
            is_docs = request.path in DOCS_PATHS and response.mimetype == "text/html"
            response.headers["Content-Security-Policy"] = await docs_policy(response) if is_docs else CSP
        return response
