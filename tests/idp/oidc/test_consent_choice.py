"""The consent screen's items and answers: idp/oidc/consent_choice.py."""

from __future__ import annotations

import json
from typing import Any

from idp.agencies.models import Client
from idp.oidc.auth_request import AuthRequest
from idp.oidc.claims import SCOPE_CLAIMS
from idp.oidc.consent_choice import answer, items_for
from idp.oidc.params import Params


def request(scope: str, claims: dict[str, Any] | None = None) -> AuthRequest:
    values = {"scope": scope}
    if claims is not None:
        values["claims"] = json.dumps(claims)
    return AuthRequest(
        client=Client(client_id="c", metadata_={}),
        redirect_uri="https://agency.example.gov.kh/callback",
        params=Params(values=values, repeated=frozenset()),
        pkce_required=True,
    )


def test_one_item_per_scope_and_per_claim_outside_the_scopes() -> None:
    req = request(
        "openid profile email offline_access",
        {"userinfo": {"email": None, "phone_number": None, "birthdate": None}},
    )
    items = items_for(req)
    assert [i.key for i in items] == [
        "scope:email",
        "scope:offline_access",
        "scope:profile",
        "claim:phone_number",  # email is already in its scope; birthdate is not released
    ]
    assert [i.field for i in items][-1] == "share:claim:phone_number"
    email = items[0]
    assert email.claims == SCOPE_CLAIMS["email"]
    assert email.names == ("email", "email", "email_verified")
    assert items[1].claims == ()
    assert not any(i.essential for i in items)


def test_essential_claims_make_their_item_essential() -> None:
    req = request(
        "openid profile email",
        {"userinfo": {"email": {"essential": True}}, "id_token": {"address": {"essential": True}}},
    )
    by_key = {i.key: i for i in items_for(req)}
    assert by_key["scope:email"].essential
    assert by_key["scope:email"].essential_claims == ("email",)
    assert by_key["claim:address"].essential
    assert not by_key["scope:profile"].essential


def test_essential_false_is_optional() -> None:
    req = request("openid", {"userinfo": {"email": {"essential": False}}})
    (item,) = items_for(req)
    assert not item.essential


def test_ticked_and_essential_items_are_granted_the_rest_declined() -> None:
    req = request(
        "openid profile email phone",
        {"userinfo": {"email": {"essential": True}, "address": None}},
    )
    items = items_for(req)
    got = answer(items, {"share:scope:profile": "1"})  # email left out, but essential
    assert got.scopes == {"profile", "email"}
    assert got.claims == set(SCOPE_CLAIMS["profile"]) | {"email", "email_verified"}
    assert got.essential_claims == {"email"}
    assert got.declined == {"phone", "phone_number", "phone_number_verified", "address"}


def test_nothing_ticked_grants_only_the_essential() -> None:
    items = items_for(request("openid profile email"))
    got = answer(items, {})
    assert got.scopes == got.claims == frozenset()
    assert got.declined == {"profile", "email", *SCOPE_CLAIMS["profile"], "email_verified"}


def test_unknown_fields_grant_nothing() -> None:
    items = items_for(request("openid profile"))
    got = answer(items, {"share:scope:address": "1", "share:claim:email": "1"})
    assert got.scopes == got.claims == frozenset()
