"""How strong a secret is, estimated without any dependency (settings import this at start-up)."""

from __future__ import annotations

import math

MIN_SECRET_BITS = 128
HOW_TO_MAKE_A_SECRET = "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"
_CLASSES = (
    (str.islower, 26),
    (str.isupper, 26),
    (str.isdigit, 10),
    (lambda c: c.isascii() and not c.isalnum(), 33),
    (lambda c: not c.isascii(), 64),
)


def secret_bits(secret: str) -> float:
    """A conservative estimate of a secret's entropy: length × log2(the alphabet of the character
    classes it uses), where a character counts only up to 3 times the number of distinct characters
    (so `aaaa…` or `abcabc…` score as the few symbols they are). A random token scores near its real
    entropy (token_hex(16) ≈ 165, token_urlsafe(32) ≈ 280). Words and phrases score above their real
    entropy, so this refuses only what is clearly weak: generate the secret as the message says."""
    if not secret:
        return 0.0
    alphabet = sum(size for test, size in _CLASSES if any(test(c) for c in secret))
    length = min(len(secret), 3 * len(set(secret)))
    return length * math.log2(max(alphabet, 2))


def secret_problem(secret: str, name: str = "APP_SECRET_KEY") -> str | None:
    bits = secret_bits(secret)
    if bits >= MIN_SECRET_BITS:
        return None
    return (
        f"{name} is too weak (an estimated {bits:.0f} bits; at least {MIN_SECRET_BITS} bits are needed): "
        f"make one with {HOW_TO_MAKE_A_SECRET}"
    )
