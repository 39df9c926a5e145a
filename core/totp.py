"""TOTP second factor (RFC 6238: 30-second steps, 6 digits, HMAC-SHA-1, what authenticator apps expect),
its QR code as SVG, and recovery codes.

The shared secret is sealed with the credential cipher of core/security.py (AES-256-GCM under
APP_SECRET_KEY) with associated data naming the user, so a sealed secret copied to another user's row
does not open. Recovery codes carry 80 random bits each, so a plain SHA-256 is enough to store them:
nobody can brute-force 2^80 candidates, unlike a password.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import secrets
from datetime import datetime
from uuid import UUID

import pyotp
import segno

from core.security import CredentialSealer, Sealed

ISSUER = "perpvol"
STEP_SECONDS = 30
DIGITS = 6
# One step either side: clocks of phones drift and people type slowly.
WINDOW = 1
RECOVERY_CODES = 10
# The credential cipher's associated data names a venue and a credential id; TOTP secrets use these.
SEAL_VENUE = "totp"
SEAL_ID = UUID("6f1e0b8e-7a51-4d7c-9a3b-0c1b2d3e4f50")


def new_secret() -> str:
    """160 random bits in base32 (RFC 4226's recommended key length)."""
    return pyotp.random_base32(32)


def seal_secret(sealer: CredentialSealer, secret: str, user_id: int) -> Sealed:
    return sealer.seal({"secret": secret}, user_id, SEAL_VENUE, SEAL_ID)


def open_secret(sealer: CredentialSealer, sealed: Sealed, user_id: int) -> str:
    """Raises CredentialDecryptError when APP_SECRET_KEY does not open it."""
    return sealer.open(sealed, user_id, SEAL_VENUE, SEAL_ID)["secret"]


def provisioning_uri(secret: str, email: str) -> str:
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(name=email, issuer_name=ISSUER)


def qr_svg_data_uri(uri: str) -> str:
    """The QR code of `uri` as an SVG data URI for an <img>: no inline script or style, so the strict
    CSP (`img-src 'self' data:`) holds."""
    buffer = io.BytesIO()
    segno.make(uri, error="m").save(buffer, kind="svg", scale=5, border=2, xmldecl=False, svgns=True)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


def matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The time-step (within one of now) whose code is `code`, or None. The caller records the step so
    the same code is not accepted twice (RFC 6238 section 5.2)."""
    code = "".join(code.split())
    if len(code) != DIGITS or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
    current = int(now.timestamp()) // STEP_SECONDS
    for step in range(current - WINDOW, current + WINDOW + 1):
        if hmac.compare_digest(totp.at(step * STEP_SECONDS), code):
            return step
    return None


def new_recovery_codes() -> list[str]:
    """Ten codes like `3f9a2-c41d0-77be1-0a9c4` (80 bits each)."""
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = secrets.token_hex(10)
        codes.append("-".join(raw[i : i + 5] for i in range(0, 20, 5)))
    return codes


def normalize_recovery_code(code: str) -> str:
    return "".join(c for c in code.lower() if c in "0123456789abcdef")


def recovery_code_hash(code: str) -> bytes:
    return hashlib.sha256(normalize_recovery_code(code).encode()).digest()


def looks_like_recovery_code(code: str) -> bool:
    return len(normalize_recovery_code(code)) == 20
