"""Levels of assurance: `acr` values and RFC 8176 `amr`.

An `acr` names two things at once (docs/authentication.md):
`urn:citizen-idp:acr:<identity>:<strength>`, where identity is how sure the provider is of
who the citizen is (raised by proofing) and strength is how they signed in. A sign-in meets
a requested level when it is at least as high on both axes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

ACR_PREFIX = "urn:citizen-idp:acr:"

# Lowest first. Identity: self-asserted until proofing, remotely (documents checked by an
# officer) or in person at an office.
IDENTITY_LEVELS = ("self-asserted", "verified-remote", "verified-in-person")
# Authentication strength: a code sent by SMS alone is the lowest (NIST SP 800-63B §5.1.3.3:
# a restricted authenticator), a password alone is "basic", password plus SMS code is
# multi-factor, a passkey with user verification is phishing-resistant (and multi-factor).
STRENGTHS = ("sms-only", "basic", "mfa", "phishing-resistant")

SELF_ASSERTED, VERIFIED_REMOTE, VERIFIED_IN_PERSON = range(len(IDENTITY_LEVELS))
SMS_ONLY, BASIC, MFA, PHISHING_RESISTANT = range(len(STRENGTHS))


@dataclass(frozen=True)
class Level:
    identity: int  # index into IDENTITY_LEVELS
    strength: int  # index into STRENGTHS

    @property
    def acr(self) -> str:
        return f"{ACR_PREFIX}{IDENTITY_LEVELS[self.identity]}:{STRENGTHS[self.strength]}"

    def meets(self, wanted: Level) -> bool:
        return self.identity >= wanted.identity and self.strength >= wanted.strength


def level(acr: str) -> Level | None:
    """The level an `acr` value names, or None for a value of somebody else's vocabulary."""
    if not acr.startswith(ACR_PREFIX):
        return None
    identity, _, strength = acr[len(ACR_PREFIX) :].partition(":")
    if identity not in IDENTITY_LEVELS or strength not in STRENGTHS:
        return None
    return Level(IDENTITY_LEVELS.index(identity), STRENGTHS.index(strength))


ACR_SELF_ASSERTED_SMS_ONLY = Level(SELF_ASSERTED, SMS_ONLY).acr
ACR_SELF_ASSERTED_BASIC = Level(SELF_ASSERTED, BASIC).acr
ACR_SELF_ASSERTED_MFA = Level(SELF_ASSERTED, MFA).acr
ACR_SELF_ASSERTED_PHISHING_RESISTANT = Level(SELF_ASSERTED, PHISHING_RESISTANT).acr

# Every identity level (proofing raises it) at every strength (each sign-in method has one).
SUPPORTED_ACR_VALUES = tuple(
    Level(identity, strength).acr
    for identity in range(len(IDENTITY_LEVELS))
    for strength in range(len(STRENGTHS))
)

AMR_PASSWORD = "pwd"  # RFC 8176 §2
AMR_SMS = "sms"
AMR_MFA = "mfa"
# a passkey: the key is software (attestation `none` cannot prove hardware, see
# docs/authentication.md) and the authenticator tested the user (presence and verification)
AMR_SOFTWARE_KEY = "swk"
AMR_USER = "user"
AMR_PASSKEY = [AMR_SOFTWARE_KEY, AMR_USER]

AMR_FOR_ACR = {
    ACR_SELF_ASSERTED_SMS_ONLY: [AMR_SMS],
    ACR_SELF_ASSERTED_BASIC: [AMR_PASSWORD],
    ACR_SELF_ASSERTED_MFA: [AMR_PASSWORD, AMR_SMS, AMR_MFA],
    ACR_SELF_ASSERTED_PHISHING_RESISTANT: AMR_PASSKEY,
}


def acceptable(acr_values: Iterable[str]) -> list[Level]:
    """The levels a request accepts: acr_values name acceptable levels (OIDC Core §3.1.2.1);
    values outside our vocabulary are ignored."""
    return [wanted for wanted in map(level, acr_values) if wanted is not None]


def meets(acr: str, acr_values: Iterable[str]) -> bool:
    """Whether a sign-in at `acr` answers a request for `acr_values` (any one of them)."""
    wanted = acceptable(acr_values)
    if not wanted:
        return True
    have = level(acr)
    return have is not None and any(have.meets(each) for each in wanted)


def reachable(acr_values: Iterable[str], identity: int) -> list[Level]:
    """The acceptable levels a citizen at `identity` can reach by signing in more strongly
    (identity assurance is raised by proofing, never by a sign-in)."""
    return [each for each in acceptable(acr_values) if each.identity <= identity]


def required_strength(acr_values: Iterable[str], identity: int = SELF_ASSERTED) -> int:
    """The weakest sign-in that meets the request for a citizen at `identity`; SMS_ONLY
    (anything) when the request names no level it can reach."""
    return min((each.strength for each in reachable(acr_values, identity)), default=SMS_ONLY)


def needs_mfa(acr_values: Iterable[str], identity: int = SELF_ASSERTED) -> bool:
    return required_strength(acr_values, identity) >= MFA


def needs_passkey(acr_values: Iterable[str], identity: int = SELF_ASSERTED) -> bool:
    return required_strength(acr_values, identity) >= PHISHING_RESISTANT


def identity_index(name: str) -> int:
    """The position of an identity level's name (a citizen's `identity_level`)."""
    return IDENTITY_LEVELS.index(name) if name in IDENTITY_LEVELS else SELF_ASSERTED


def identity_of(acr: str) -> int:
    """The identity level an `acr` of ours names (a session's is kept current by proofing)."""
    have = level(acr)
    return have.identity if have else SELF_ASSERTED


def with_identity(acr: str, identity: int) -> str:
    """The same sign-in strength at another identity level: a session's `acr` follows the
    citizen's identity level when proofing changes it."""
    have = level(acr)
    return acr if have is None else Level(identity, have.strength).acr


def can_reach(acr_values: Iterable[str], identity: int) -> bool:
    """Whether some sign-in by a citizen at `identity` meets the request (no level asked of
    our vocabulary: any sign-in does)."""
    wanted = acceptable(acr_values)
    return not wanted or any(each.identity <= identity for each in wanted)
