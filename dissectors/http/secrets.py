"""Masking of credentials seen in HTTP: shown as a fingerprint unless asked otherwise.

A fingerprint (first 8 hex digits of SHA-256) lets a reader see that two requests
used the same token, and which one a credentials exchange handed out, without the
token itself ever reaching a terminal, a report or a JSON export.
"""

from __future__ import annotations

import hashlib

SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})


def fingerprint(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogateescape")).hexdigest()[:8]


def mask(secret: str) -> str:
    return f"<redacted {fingerprint(secret)}>"


def mask_header(name: str, value: str, show_secrets: bool) -> str:
    """The value to show for header `name`: auth schemes keep their scheme word."""
    if show_secrets or name.lower() not in SECRET_HEADERS:
        return value
    scheme, sep, credential = value.partition(" ")
    if sep and name.lower().endswith("authorization"):
        return f"{scheme} {mask(credential.strip())}"
    return mask(value)
