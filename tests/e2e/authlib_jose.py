"""Authlib's JOSE API (authlib.jose), imported once for the agency's ID token checks.

Authlib 1.x announces on import that authlib.jose moves to joserfc in Authlib 2.0; it is still
Authlib's documented API and works unchanged. Only that one notice, for this one import, is
ignored: pytest turns every other warning into an error.
"""

from __future__ import annotations

import warnings

from authlib.deprecate import AuthlibDeprecationWarning

with warnings.catch_warnings():
    warnings.filterwarnings(
        "ignore",
        message="authlib.jose module is deprecated",
        category=AuthlibDeprecationWarning,
    )
    from authlib.jose import JsonWebKey, JsonWebToken
    from authlib.jose.errors import JoseError

__all__ = ["JoseError", "JsonWebKey", "JsonWebToken"]
