"""`idp keys rotate` under a running server: the promoted key was published before it signs,
and what the retired key signed still verifies."""

from __future__ import annotations

import base64
import json
from typing import Any

import requests

from idp.provider import Provider
from tests.e2e.agency import Agency, sign_in, verify_id_token
from tests.e2e.browser import Browser
from tests.e2e.live import ServerPool, run_cli
from tests.factories import make_citizen


def jose_header(token: str) -> dict[str, Any]:
    segment = token.partition(".")[0]
    header: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    )
    return header


def test_rotation_publishes_before_signing_and_keeps_old_tokens_valid(
    live_servers: ServerPool, provider: Provider
) -> None:
    # no key cache: this process sees the rotation at once (others within key_cache_seconds)
    (server,) = live_servers.start(IDP_KEY_CACHE_SECONDS="0")
    agency, citizen = Agency.register(provider), make_citizen(provider)
    with agency.oauth() as client, Browser(server.url) as browser:
        before = sign_in(client, agency, server, browser, citizen)
        old_kid = jose_header(before.token["id_token"])["kid"]
        published_before = {key["kid"] for key in server.jwks()["keys"]}

        rotated = run_cli(server, "keys", "rotate")["signing_kids"]
        assert set(rotated) <= published_before  # relying parties already hold the new keys

        after = sign_in(client, agency, server, browser, citizen)
        new_kid = jose_header(after.token["id_token"])["kid"]
        assert new_kid != old_kid
        assert new_kid in rotated

        jwks = server.jwks()
        assert {old_kid, new_kid} <= {key["kid"] for key in jwks["keys"]}
        verify_id_token(  # signed before the rotation, verified after it
            before.token["id_token"],
            jwks=jwks,
            issuer=server.issuer,
            client_id=agency.client_id,
            nonce=before.authorization.nonce,
            access_token=before.token["access_token"],
        )
        for token in (before.token, after.token):
            response = requests.get(
                server.metadata["userinfo_endpoint"],
                headers={"Authorization": f"Bearer {token['access_token']}"},
                timeout=10,
            )
            assert response.status_code == 200, response.text
