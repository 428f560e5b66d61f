"""What an agency does with its tokens on a live server: userinfo, refresh with rotation
and reuse detection, revocation (RFC 7009) and introspection (RFC 7662)."""

from __future__ import annotations

import pytest
import requests
from authlib.integrations.base_client import OAuthError

from idp.provider import Provider
from tests.e2e.agency import SCOPE, Agency, SignedIn, userinfo, verify_id_token
from tests.e2e.live import LiveServer
from tests.factories import MadeCitizen


def test_userinfo_get_and_post_match_the_id_token(
    server: LiveServer, signed_in: SignedIn, citizen: MadeCitizen
) -> None:
    access_token = signed_in.token["access_token"]
    got = userinfo(server, access_token)
    form = requests.post(
        server.metadata["userinfo_endpoint"], data={"access_token": access_token}, timeout=10
    )
    for response in (got, form):
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["sub"] == signed_in.id_claims["sub"]
        assert body["phone_number"] == citizen.phone_number
        assert body["phone_number_verified"] is True
        assert body["given_name#km"] == "ដារា"


def test_refresh_rotates_and_reuse_revokes_the_family(
    server: LiveServer, signed_in: SignedIn
) -> None:
    client = signed_in.client
    token_endpoint = server.metadata["token_endpoint"]
    old = signed_in.token["refresh_token"]
    new = client.refresh_token(token_endpoint, refresh_token=old)
    assert new["refresh_token"] != old
    claims = verify_id_token(
        new["id_token"],
        jwks=server.jwks(),
        issuer=server.issuer,
        client_id=client.client_id,
        nonce=None,
        access_token=new["access_token"],
    )
    assert claims["sub"] == signed_in.id_claims["sub"]
    assert claims["auth_time"] == signed_in.id_claims["auth_time"]
    assert userinfo(server, new["access_token"]).status_code == 200

    with pytest.raises(OAuthError) as reuse:
        client.refresh_token(token_endpoint, refresh_token=old)
    assert reuse.value.error == "invalid_grant"
    # the whole family is gone: the newest refresh token and the access tokens too
    with pytest.raises(OAuthError) as after:
        client.refresh_token(token_endpoint, refresh_token=new["refresh_token"])
    assert after.value.error == "invalid_grant"
    assert userinfo(server, new["access_token"]).status_code == 401
    assert userinfo(server, signed_in.token["access_token"]).status_code == 401


def test_revoking_the_access_token_ends_it_only(server: LiveServer, signed_in: SignedIn) -> None:
    client = signed_in.client
    access_token = signed_in.token["access_token"]
    assert userinfo(server, access_token).status_code == 200
    revoked = client.revoke_token(
        server.metadata["revocation_endpoint"], token=access_token, token_type_hint="access_token"
    )
    assert revoked.status_code == 200
    refused = userinfo(server, access_token)
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_token"
    assert refused.headers["www-authenticate"].startswith('Bearer realm="citizen-idp"')
    assert 'error="invalid_token"' in refused.headers["www-authenticate"]
    # RFC 7009 §2.1: revoking an access token need not end the grant
    fresh = client.refresh_token(
        server.metadata["token_endpoint"], refresh_token=signed_in.token["refresh_token"]
    )
    assert userinfo(server, fresh["access_token"]).status_code == 200
    # revoking again, or revoking nonsense, is still 200 (§2.2)
    again = client.revoke_token(server.metadata["revocation_endpoint"], token=access_token)
    assert again.status_code == 200
    nonsense = client.revoke_token(server.metadata["revocation_endpoint"], token="not-a-token")
    assert nonsense.status_code == 200


def test_revoking_the_refresh_token_ends_the_grant(server: LiveServer, signed_in: SignedIn) -> None:
    client = signed_in.client
    revoked = client.revoke_token(
        server.metadata["revocation_endpoint"],
        token=signed_in.token["refresh_token"],
        token_type_hint="refresh_token",
    )
    assert revoked.status_code == 200
    with pytest.raises(OAuthError) as failure:
        client.refresh_token(
            server.metadata["token_endpoint"], refresh_token=signed_in.token["refresh_token"]
        )
    assert failure.value.error == "invalid_grant"
    assert userinfo(server, signed_in.token["access_token"]).status_code == 401


def test_introspection_for_the_token_owner_only(
    server: LiveServer, signed_in: SignedIn, provider: Provider
) -> None:
    client = signed_in.client
    endpoint = server.metadata["introspection_endpoint"]
    access_token = signed_in.token["access_token"]
    active = client.introspect_token(endpoint, token=access_token).json()
    assert active["active"] is True
    assert active["client_id"] == client.client_id
    assert active["sub"] == signed_in.id_claims["sub"]
    assert active["iss"] == server.issuer
    assert set(active["scope"].split()) == set(SCOPE.split())
    assert active["token_type"] == "Bearer"
    refresh = client.introspect_token(endpoint, token=signed_in.token["refresh_token"]).json()
    assert refresh["active"] is True
    assert refresh["token_type"] == "refresh_token"

    other = Agency.register(provider)
    with other.oauth() as other_client:
        for token in (access_token, signed_in.token["refresh_token"]):
            assert other_client.introspect_token(endpoint, token=token).json() == {"active": False}

    assert client.introspect_token(endpoint, token="garbage").json() == {"active": False}
    client.revoke_token(server.metadata["revocation_endpoint"], token=access_token)
    assert client.introspect_token(endpoint, token=access_token).json() == {"active": False}


def test_refresh_may_narrow_the_scope_but_never_widen_it(
    server: LiveServer, signed_in: SignedIn
) -> None:
    client, endpoint = signed_in.client, server.metadata["token_endpoint"]
    narrowed = client.refresh_token(
        endpoint, refresh_token=signed_in.token["refresh_token"], scope="openid email"
    )
    assert set(narrowed["scope"].split()) == {"openid", "email"}
    body = userinfo(server, narrowed["access_token"]).json()
    assert set(body) == {"sub", "email", "email_verified"}
    with pytest.raises(OAuthError) as wider:
        client.refresh_token(
            endpoint, refresh_token=narrowed["refresh_token"], scope="openid address"
        )
    assert wider.value.error == "invalid_scope"
