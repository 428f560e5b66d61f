"""acr_values a citizen's identity level cannot meet end with unmet_authentication_requirements;
discovery lists every level and the OIDC4IDA metadata."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from idp.accounts.models import Citizen
from idp.authn.assurance import IDENTITY_LEVELS, SUPPORTED_ACR_VALUES, Level
from idp.provider import Provider
from tests.factories import make_citizen, make_client
from tests.flows import authorize_params, query_of, sign_in
from tests.idp.web.test_sms_sign_in import finish, password_then_code, start
from tests.sms_gateway import SmsGateway


@pytest.fixture(autouse=True)
def english(client: TestClient) -> None:
    client.headers["Accept-Language"] = "en"


def test_identity_too_low_ends_with_unmet_authentication_requirements(
    app: FastAPI, client: TestClient, provider: Provider
) -> None:
    citizen, rp = make_citizen(provider), make_client(provider)
    params = authorize_params(rp, acr_values=Level(2, 1).acr)
    response = client.get("/authorize", params={k: v for k, v in params.items() if k[0] != "_"})
    assert response.headers["location"].startswith("/login")
    after = sign_in(client, citizen, query_of(response.headers["location"])["tx"])
    result = client.get(after)
    assert result.status_code == 303
    answer = query_of(result.headers["location"])
    assert result.headers["location"].startswith(rp.redirect_uri)
    assert answer["error"] == "unmet_authentication_requirements"
    assert answer["state"] == "state-123"
    # already signed in: the same answer at once
    again = client.get("/authorize", params={k: v for k, v in params.items() if k[0] != "_"})
    assert query_of(again.headers["location"])["error"] == "unmet_authentication_requirements"


def test_a_lower_identity_among_the_choices_is_accepted(
    client: TestClient, provider: Provider
) -> None:
    citizen, rp = make_citizen(provider), make_client(provider)
    sign_in(client, citizen)
    choices = f"{Level(2, 1).acr} {Level(0, 1).acr}"
    params = authorize_params(rp, acr_values=choices)
    response = client.get("/authorize", params={k: v for k, v in params.items() if k[0] != "_"})
    assert "error" not in query_of(response.headers["location"])


def test_discovery_lists_every_level_and_identity_assurance(client: TestClient) -> None:
    meta = client.get("/.well-known/openid-configuration").json()
    assert set(SUPPORTED_ACR_VALUES) <= set(meta["acr_values_supported"])
    for identity in IDENTITY_LEVELS:
        assert any(f":{identity}:" in acr for acr in meta["acr_values_supported"])
    assert meta["verified_claims_supported"] is True
    assert meta["trust_frameworks_supported"] == ["kh_citizen_idp"]
    assert meta["evidence_supported"] == ["document"]
    assert "birthdate" in meta["claims_in_verified_claims_supported"]
    assert "verified_claims" in meta["claims_supported"]


def test_a_malformed_verified_claims_request_is_refused(
    client: TestClient, provider: Provider
) -> None:
    rp = make_client(provider)
    params = authorize_params(rp, claims='{"id_token": {"verified_claims": {"claims": {}}}}')
    response = client.get("/authorize", params={k: v for k, v in params.items() if k[0] != "_"})
    assert query_of(response.headers["location"])["error"] == "invalid_request"


def test_a_verified_citizen_steps_up_to_the_verified_mfa_level(
    client: TestClient, provider: Provider, sms_gateway: SmsGateway
) -> None:
    rp, citizen = make_client(provider), make_citizen(provider)
    with provider.sessions.begin() as session:
        row = session.get(Citizen, citizen.id)
        assert row is not None
        row.identity_level = "verified-remote"
    wanted = Level(1, 2).acr  # verified-remote:mfa
    params, location = start(client, rp, acr_values=wanted)
    location = password_then_code(client, provider, sms_gateway, citizen, query_of(location)["tx"])
    assert finish(client, provider, rp, params, location)["acr"] == wanted
    # a password session of the same citizen steps up with the code only
    client.cookies.clear()
    sign_in(client, citizen)
    params, location = start(client, rp, acr_values=wanted)
    assert location.startswith("/login")
    assert "step" in client.get(location).text.lower()
