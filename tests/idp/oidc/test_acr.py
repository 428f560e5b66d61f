"""acr_values: a level the provider can reach is given; none reachable is refused clearly."""

from __future__ import annotations

from starlette.testclient import TestClient

from idp.authn.assurance import ACR_SELF_ASSERTED_BASIC
from idp.crypto import jwt
from idp.provider import Provider
from tests.conftest import ISSUER
from tests.factories import make_citizen, make_client
from tests.flows import authorize_params, follow_to_client, query_of, redeem


def test_unreachable_acr_values_are_refused(client: TestClient, provider: Provider) -> None:
    rp = make_client(provider)
    params = authorize_params(rp, acr_values="urn:example:loa:4")
    response = client.get("/authorize", params={k: v for k, v in params.items() if k[0] != "_"})
    assert response.status_code == 303
    result = query_of(response.headers["location"])
    assert result["error"] == "unmet_authentication_requirements"
    assert result["state"] == "state-123"
    assert result["iss"] == ISSUER


def test_reachable_acr_is_in_the_id_token(client: TestClient, provider: Provider) -> None:
    rp, citizen = make_client(provider), make_citizen(provider)
    params = authorize_params(rp, acr_values=f"urn:example:loa:4 {ACR_SELF_ASSERTED_BASIC}")
    result = follow_to_client(client, rp, citizen, params)
    tokens = redeem(client, rp, result["code"], params["_verifier"]).json()
    claims = jwt.verify(
        tokens["id_token"], keys=provider.keys.get().verifying, issuer=ISSUER, audience=rp.client_id
    )
    assert claims["acr"] == ACR_SELF_ASSERTED_BASIC
    assert claims["amr"] == ["pwd"]
