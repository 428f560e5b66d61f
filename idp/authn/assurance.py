"""Levels of assurance: `acr` values (identity proofing x authentication) and RFC 8176 `amr`."""

from __future__ import annotations

from collections.abc import Iterable

ACR_PREFIX = "urn:citizen-idp:acr:"

# Identity assurance is self-asserted until proofing raises it. Authentication strength:
# a code sent by SMS alone is the lowest level (NIST SP 800-63B §5.1.3.3: a restricted
# authenticator), a password alone is "basic", password plus SMS code is multi-factor.
ACR_SELF_ASSERTED_SMS_ONLY = ACR_PREFIX + "self-asserted:sms-only"
ACR_SELF_ASSERTED_BASIC = ACR_PREFIX + "self-asserted:basic"
ACR_SELF_ASSERTED_MFA = ACR_PREFIX + "self-asserted:mfa"

SUPPORTED_ACR_VALUES = (ACR_SELF_ASSERTED_BASIC, ACR_SELF_ASSERTED_MFA, ACR_SELF_ASSERTED_SMS_ONLY)

RANK = {ACR_SELF_ASSERTED_SMS_ONLY: 1, ACR_SELF_ASSERTED_BASIC: 2, ACR_SELF_ASSERTED_MFA: 3}

AMR_PASSWORD = "pwd"  # RFC 8176 §2
AMR_SMS = "sms"
AMR_MFA = "mfa"

AMR_FOR_ACR = {
    ACR_SELF_ASSERTED_SMS_ONLY: [AMR_SMS],
    ACR_SELF_ASSERTED_BASIC: [AMR_PASSWORD],
    ACR_SELF_ASSERTED_MFA: [AMR_PASSWORD, AMR_SMS, AMR_MFA],
}


def required_rank(acr_values: Iterable[str]) -> int:
    """The lowest level the request accepts: acr_values name acceptable levels (OIDC Core
    §3.1.2.1), and a higher level than one asked for meets it. 0 when none is asked."""
    ranks = [RANK[value] for value in acr_values if value in RANK]
    return min(ranks, default=0)


def meets(acr: str, acr_values: Iterable[str]) -> bool:
    """Whether a sign-in at `acr` answers a request for `acr_values`."""
    return RANK.get(acr, 0) >= required_rank(acr_values)


def needs_mfa(acr_values: Iterable[str]) -> bool:
    return required_rank(acr_values) >= RANK[ACR_SELF_ASSERTED_MFA]
