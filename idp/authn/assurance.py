"""Levels of assurance: `acr` values (identity proofing x authentication) and RFC 8176 `amr`."""

from __future__ import annotations

ACR_PREFIX = "urn:citizen-idp:acr:"

# Identity assurance is self-asserted until proofing raises it; a password alone is "basic".
ACR_SELF_ASSERTED_BASIC = ACR_PREFIX + "self-asserted:basic"

SUPPORTED_ACR_VALUES = (ACR_SELF_ASSERTED_BASIC,)

AMR_PASSWORD = "pwd"  # RFC 8176 §2
