"""The consent screen: idp/web/consent.py and idp/oidc/consent_choice.py. One box per piece of
data; optional ones can be unticked and are then released nowhere (ID token, userinfo,
refresh) nor asked again; essential ones cannot be unticked."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from starlette.testclient import TestClient

import consent.api
from idp.provider import Provider
from tests.factories import MadeCitizen, MadeClient, make_client
from tests.flows import (
    approve_consent,
    authorize_params,
    bearer,
    id_token_claims,
    query_of,
    redeem,
    sign_in,
    token_post,
)

PURPOSE = {"en": "To register your business", "km": "ដើម្បីចុះបញ្ជីអាជីវកម្មរបស់អ្នក"}
POLICY = "https://agency.example.gov.kh/privacy"


@pytest.fixture(autouse=True)
def english(client: TestClient) -> None:
    client.headers["Accept-Language"] = "en"


def authorize(browser: TestClient, params: dict[str, Any]) -> Any:
    return browser.get(
        "/authorize", params={k: v for k, v in params.items() if not k.startswith("_")}
    )


def to_consent_page(browser: TestClient, citizen: MadeCitizen, params: dict[str, Any]) -> str:
    """From /authorize to the consent page (signing in if needed); returns its location."""
    location: str = authorize(browser, params).headers["location"]
    if location.startswith("/login"):
        location = sign_in(browser, citizen, query_of(location)["tx"])
        location = browser.get(location).headers["location"]
    assert location.startswith("/consent?tx="), location
    return location


def tokens_for(browser: TestClient, rp: MadeClient, location: str, verifier: str) -> Any:
    assert location.startswith(rp.redirect_uri), location
    response = redeem(browser, rp, query_of(location)["code"], verifier)
    assert response.status_code == 200, response.text
    return response.json()


def userinfo(browser: TestClient, access_token: str) -> dict[str, Any]:
    response = browser.get("/userinfo", headers=bearer(access_token))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def active(provider: Provider, citizen: MadeCitizen, rp: MadeClient) -> consent.api.Consent:
    with provider.sessions.begin() as session:
        current = consent.api.active(session, subject=citizen.id, recipient=rp.client_id)
    assert current is not None
    return current


def checkbox(html: str, field: str) -> str:
    match = re.search(rf'<input type="checkbox" name="share:{re.escape(field)}"[^>]*>', html)
    assert match, f"no box for {field}"
    return match.group(0)


# Partial consent


def test_unticked_email_is_released_nowhere_and_not_asked_again(
    client: TestClient, provider: Provider, rp: MadeClient, citizen: MadeCitizen
) -> None:
    claims = json.dumps({"id_token": {"email": None, "name": None}})
    params = authorize_params(rp, claims=claims)
    location = to_consent_page(client, citizen, params)
    page = client.get(location).text
    assert "checked disabled" not in checkbox(page, "scope:email")  # optional
    location = approve_consent(client, location, untick=("scope:email",))
    tokens = tokens_for(client, rp, location, params["_verifier"])

    assert set(tokens["scope"].split()) == {"openid", "profile", "phone", "offline_access"}
    in_id_token = id_token_claims(provider, rp, tokens["id_token"])
    assert in_id_token["name"] == "Dara Sok"
    assert "email" not in in_id_token
    body = userinfo(client, tokens["access_token"])
    assert body["phone_number"] == citizen.phone_number
    assert body["given_name"] == "Dara"
    assert not {"email", "email_verified"} & set(body)

    current = active(provider, citizen, rp)
    assert current.scopes == {"profile", "phone", "offline_access"}
    assert not {"email", "email_verified"} & current.claims
    assert current.declined == {"email", "email_verified"}

    # refreshed tokens carry no email either, and the grant cannot be widened to it
    refreshed = token_post(
        client, rp, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    ).json()
    assert "email" not in id_token_claims(provider, rp, refreshed["id_token"])
    assert "email" not in userinfo(client, refreshed["access_token"])
    wider = token_post(
        client,
        rp,
        {
            "grant_type": "refresh_token",
            "refresh_token": refreshed["refresh_token"],
            "scope": "openid email",
        },
    )
    assert wider.json()["error"] == "invalid_scope"

    # the same request again: everything is answered, so no consent page, and still no email
    params = authorize_params(rp, claims=claims)
    again = authorize(client, params)
    assert again.status_code == 303
    tokens = tokens_for(client, rp, again.headers["location"], params["_verifier"])
    assert "email" not in tokens["scope"].split()
    assert "email" not in id_token_claims(provider, rp, tokens["id_token"])


def test_unticked_claim_item_is_not_released(
    client: TestClient, provider: Provider, rp: MadeClient, citizen: MadeCitizen
) -> None:
    claims = json.dumps({"userinfo": {"phone_number": None, "email": None}})
    params = authorize_params(rp, scope="openid profile", claims=claims)
    location = approve_consent(
        client, to_consent_page(client, citizen, params), untick=("claim:phone_number",)
    )
    tokens = tokens_for(client, rp, location, params["_verifier"])
    body = userinfo(client, tokens["access_token"])
    assert body["email"] == "citizen@example.com"
    assert body["name"] == "Dara Sok"
    assert "phone_number" not in body
    current = active(provider, citizen, rp)
    assert current.claims >= {"email", "name"}
    assert current.declined == {"phone_number"}


def test_a_new_item_brings_the_page_back(
    client: TestClient, provider: Provider, rp: MadeClient, citizen: MadeCitizen
) -> None:
    params = authorize_params(rp, scope="openid profile email")
    location = approve_consent(
        client, to_consent_page(client, citizen, params), untick=("scope:email",)
    )
    assert query_of(location)["code"]
    wider = authorize(client, authorize_params(rp, scope="openid profile email address"))
    assert wider.headers["location"].startswith("/consent?tx=")
    page = client.get(wider.headers["location"]).text
    assert "Your address" in page


def test_a_claim_granted_alone_does_not_answer_its_scope(
    client: TestClient, provider: Provider, rp: MadeClient, citizen: MadeCitizen
) -> None:
    """`address` is both a claim and a scope: consent to the claim is not consent to the
    scope, so a later request for the scope is asked, not silently answered."""
    claims = json.dumps({"userinfo": {"address": None}})
    params = authorize_params(rp, scope="openid", claims=claims)
    location = approve_consent(client, to_consent_page(client, citizen, params))
    assert query_of(location)["code"]
    assert active(provider, citizen, rp).claims == {"address"}
    by_scope = authorize(client, authorize_params(rp, scope="openid address"))
    assert by_scope.headers["location"].startswith("/consent?tx=")


# Essential claims (OIDC Core §5.5.1)


ESSENTIAL = {
    "in a scope": ("openid profile email", {"email": {"essential": True}}, "scope:email", "email"),
    "alone": (
        "openid profile",
        {"phone_number": {"essential": True}},
        "claim:phone_number",
        "phone_number",
    ),
}


@pytest.mark.parametrize("case", sorted(ESSENTIAL))
def test_essential_items_cannot_be_unticked(
    client: TestClient, provider: Provider, rp: MadeClient, citizen: MadeCitizen, case: str
) -> None:
    scope, claims, field, released = ESSENTIAL[case]
    params = authorize_params(rp, scope=scope, claims=json.dumps({"userinfo": claims}))
    location = to_consent_page(client, citizen, params)
    page = client.get(location).text
    assert checkbox(page, field).endswith("checked disabled>")
    assert "(needed by the service)" in page
    assert checkbox(page, "scope:profile").endswith("checked>")  # the rest stays optional
    # browsers never submit a disabled box; the server grants it all the same
    location = approve_consent(client, location, untick=(field, "scope:profile"))
    tokens = tokens_for(client, rp, location, params["_verifier"])
    body = userinfo(client, tokens["access_token"])
    assert released in body
    assert "name" not in body  # profile was unticked
    current = active(provider, citizen, rp)
    assert released in current.claims
    assert current.essential_claims == {released}
    assert "profile" in current.declined


# prompt


def test_prompt_consent_shows_the_page_even_when_everything_is_answered(
    client: TestClient, provider: Provider, rp: MadeClient, citizen: MadeCitizen
) -> None:
    params = authorize_params(rp)
    approve_consent(client, to_consent_page(client, citizen, params), untick=("scope:email",))
    assert authorize(client, authorize_params(rp)).headers["location"].startswith(rp.redirect_uri)
    params = authorize_params(rp, prompt="consent")
    location = to_consent_page(client, citizen, params)
    # asked afresh: this time the citizen shares the email address
    tokens = tokens_for(client, rp, approve_consent(client, location), params["_verifier"])
    assert userinfo(client, tokens["access_token"])["email"] == "citizen@example.com"
    assert active(provider, citizen, rp).declined == frozenset()


def test_prompt_none_without_consent_is_consent_required(
    client: TestClient, rp: MadeClient, citizen: MadeCitizen
) -> None:
    sign_in(client, citizen)
    response = authorize(client, authorize_params(rp, prompt="none"))
    assert response.status_code == 303
    query = query_of(response.headers["location"])
    assert response.headers["location"].startswith(rp.redirect_uri)
    assert query["error"] == "consent_required"
    assert query["state"] == "state-123"


# What the page says, and what is recorded


def test_consent_page_shows_the_purpose_and_the_policy(
    client: TestClient, provider: Provider, citizen: MadeCitizen
) -> None:
    rp = make_client(provider, purpose=PURPOSE, policy_uri=POLICY)
    params = authorize_params(rp)
    location = to_consent_page(client, citizen, params)
    page = client.get(location).text
    assert "Ministry of Examples asks for your information" in page
    assert PURPOSE["en"] in page
    assert PURPOSE["km"] not in page
    assert f'<a href="{POLICY}" rel="noopener">' in page
    assert "You can withdraw your consent at any time" in page

    client.headers["Accept-Language"] = "km"
    khmer = client.get(location).text
    assert PURPOSE["km"] in khmer
    assert PURPOSE["en"] not in khmer

    approve_consent(client, location)
    with provider.sessions.begin() as session:
        (record,) = consent.api.history(session, subject=citizen.id)
    assert (record.purpose, record.language) == (PURPOSE["km"], "km")
    assert record.controller == "Ministry of Examples"


def test_consent_page_shows_the_purpose_of_each_item(
    client: TestClient, provider: Provider, citizen: MadeCitizen
) -> None:
    rp = make_client(
        provider,
        purposes={
            "email": {"en": "To send you the certificate", "km": "ដើម្បីផ្ញើវិញ្ញាបនបត្រ"},
            "phone_number": {"en": "To call you about your file"},
        },
    )
    claims = json.dumps({"userinfo": {"phone_number": None}})
    location = to_consent_page(
        client, citizen, authorize_params(rp, scope="openid profile email", claims=claims)
    )
    page = client.get(location).text
    email = page.index('name="share:scope:email"')
    assert email < page.index("To send you the certificate") < page.index("</label>", email)
    phone = page.index('name="share:claim:phone_number"')
    assert phone < page.index("To call you about your file") < page.index("</label>", phone)
    client.headers["Accept-Language"] = "km"
    khmer = client.get(location).text
    assert "ដើម្បីផ្ញើវិញ្ញាបនបត្រ" in khmer
    assert "To call you about your file" in khmer  # no Khmer text: the English one


def test_without_a_purpose_the_service_name_is_recorded(
    client: TestClient, provider: Provider, rp: MadeClient, citizen: MadeCitizen
) -> None:
    location = to_consent_page(client, citizen, authorize_params(rp))
    page = client.get(location).text
    assert 'class="purpose"' not in page
    assert "How the service uses your information" not in page
    approve_consent(client, location)
    current = active(provider, citizen, rp)
    assert current.purpose == "Ministry of Examples"
    assert current.language == "en"


def test_consent_lasts_as_long_as_the_client_says(
    client: TestClient, provider: Provider, citizen: MadeCitizen
) -> None:
    rp = make_client(provider, consent_ttl_days=30)
    approve_consent(client, to_consent_page(client, citizen, authorize_params(rp)))
    current = active(provider, citizen, rp)
    assert current.expires_at is not None
    assert (current.expires_at - current.recorded_at).days == 30
