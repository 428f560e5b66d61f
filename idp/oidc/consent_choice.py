"""What the consent screen offers for one authorization request, and what a citizen's answer
grants: one item per requested scope and per extra claim; essential items cannot be unticked."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from idp.oidc.auth_request import AuthRequest
from idp.oidc.claims import SCOPE_CLAIMS, essential_claim_names, requested_claim_names

FIELD_PREFIX = "share:"


@dataclass(frozen=True)
class Item:
    key: str  # "scope:email" or "claim:phone_number"
    scopes: tuple[str, ...]
    claims: tuple[str, ...]
    essential_claims: tuple[str, ...]  # what the client marked essential (OIDC Core §5.5.1)

    @property
    def essential(self) -> bool:
        return bool(self.essential_claims)

    @property
    def field(self) -> str:
        return FIELD_PREFIX + self.key

    @property
    def names(self) -> tuple[str, ...]:
        """What a request may name that this item answers."""
        return self.scopes + self.claims


@dataclass(frozen=True)
class Answer:
    scopes: frozenset[str]
    claims: frozenset[str]
    declined: frozenset[str]
    essential_claims: frozenset[str]


def items_for(req: AuthRequest) -> list[Item]:
    claims_request = req.claims
    essential = essential_claim_names(claims_request)
    items = []
    for scope in req.consent_scopes:
        claims = SCOPE_CLAIMS.get(scope, ())
        marked = tuple(c for c in claims if c in essential)
        items.append(Item(f"scope:{scope}", (scope,), claims, marked))
    in_scopes = {claim for item in items for claim in item.claims}
    for claim in sorted(requested_claim_names(claims_request) - in_scopes):
        marked = (claim,) if claim in essential else ()
        items.append(Item(f"claim:{claim}", (), (claim,), marked))
    return items


def answer(items: list[Item], form: Mapping[str, str]) -> Answer:
    """Ticked and essential items are granted; the rest are declined (and not asked again)."""
    granted = [i for i in items if i.essential or form.get(i.field)]
    refused = [i for i in items if i not in granted]
    return Answer(
        scopes=frozenset(s for i in granted for s in i.scopes),
        claims=frozenset(c for i in granted for c in i.claims),
        declined=frozenset(n for i in refused for n in i.names),
        essential_claims=frozenset(c for i in granted for c in i.essential_claims),
    )
