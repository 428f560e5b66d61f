"""Clients' public keys: idp/agencies/keys.py. Keys from a jwks_uri are fetched once, cached,
and refetched for an unknown kid at most once per `refetch_after_seconds` (a minute in the
provider; a second here, so the tests wait for real)."""

from __future__ import annotations

import time

import pytest

from idp.agencies.fetch import Fetcher
from idp.agencies.keys import ClientKeys
from idp.agencies.models import Client
from idp.crypto.jwt import JwtRejected
from tests.client_keys import ClientKey, ec_key, jwks, rsa_key
from tests.documents import DocumentServer

REFETCH = 1.0  # long enough for a loaded machine to make the calls in between


@pytest.fixture(scope="module")
def old() -> ClientKey:
    return rsa_key()


@pytest.fixture(scope="module")
def new() -> ClientKey:
    return ec_key()


def quick_cache(*, ttl_seconds: float = 300.0) -> ClientKeys:
    return ClientKeys(
        fetcher=Fetcher(allow_http_loopback=True),
        ttl_seconds=ttl_seconds,
        refetch_after_seconds=REFETCH,
    )


def client(*, jwks_uri: str | None = None, keys: dict[str, object] | None = None) -> Client:
    """Only what ClientKeys reads: the id and where its keys are."""
    return Client(client_id=f"c-{time.monotonic_ns()}", jwks_uri=jwks_uri, jwks=keys)


def test_registered_jwks_are_used_as_they_are(old: ClientKey, new: ClientKey) -> None:
    found = quick_cache().keys_for(client(keys=jwks(old, new)), kid="whatever")
    assert set(found) == {old.kid, new.kid}
    assert found[new.kid].alg == "ES256"


def test_a_client_without_keys(old: ClientKey) -> None:
    with pytest.raises(JwtRejected, match="no keys"):
        quick_cache().keys_for(client())


def test_rotation_through_jwks_uri(
    documents: DocumentServer, old: ClientKey, new: ClientKey
) -> None:
    path = documents.new_path("jwks.json")
    rp = client(jwks_uri=documents.publish(path, jwks(old)))
    cache = quick_cache()
    assert set(cache.keys_for(rp, kid=old.kid)) == {old.kid}
    assert documents.hits(path) == 1
    assert set(cache.keys_for(rp, kid=old.kid)) == {old.kid}
    assert set(cache.keys_for(rp)) == {old.kid}
    assert documents.hits(path) == 1  # cached

    documents.publish(path, jwks(old, new))
    assert set(cache.keys_for(rp, kid=new.kid)) == {old.kid}  # too soon to ask again
    assert documents.hits(path) == 1

    time.sleep(REFETCH + 0.1)
    assert set(cache.keys_for(rp, kid=new.kid)) == {old.kid, new.kid}  # one refetch
    assert documents.hits(path) == 2
    for _ in range(5):  # unknown kids do not make the provider hammer the agency
        cache.keys_for(rp, kid="unknown")
    assert documents.hits(path) == 2


def test_stale_keys_are_refetched_even_for_a_known_kid(
    documents: DocumentServer, old: ClientKey, new: ClientKey
) -> None:
    path = documents.new_path("jwks.json")
    rp = client(jwks_uri=documents.publish(path, jwks(old)))
    cache = quick_cache(ttl_seconds=REFETCH)
    cache.keys_for(rp, kid=old.kid)
    documents.publish(path, jwks(new))  # the old key withdrawn
    time.sleep(REFETCH + 0.1)
    assert set(cache.keys_for(rp, kid=old.kid)) == {new.kid}
    assert documents.hits(path) == 2


def test_keys_are_kept_while_the_agency_is_down(documents: DocumentServer, old: ClientKey) -> None:
    path = documents.new_path("jwks.json")
    rp = client(jwks_uri=documents.publish(path, jwks(old)))
    cache = quick_cache(ttl_seconds=REFETCH)
    cache.keys_for(rp)
    documents.publish_raw(path, b"down for maintenance", status=503, content_type="text/plain")
    time.sleep(REFETCH + 0.1)
    assert set(cache.keys_for(rp, kid="unknown")) == {old.kid}
    assert documents.hits(path) == 2


def test_a_new_jwks_uri_is_fetched_at_once(
    documents: DocumentServer, old: ClientKey, new: ClientKey
) -> None:
    first, second = documents.new_path("jwks.json"), documents.new_path("jwks.json")
    rp = client(jwks_uri=documents.publish(first, jwks(old)))
    cache = quick_cache()
    cache.keys_for(rp)
    rp.jwks_uri = documents.publish(second, jwks(new))  # the agency changed its registration
    assert set(cache.keys_for(rp)) == {new.kid}
    assert (documents.hits(first), documents.hits(second)) == (1, 1)


def test_unusable_documents_are_refused(documents: DocumentServer, old: ClientKey) -> None:
    cache = quick_cache()
    missing = client(jwks_uri=documents.base_url + documents.new_path("none.json"))
    with pytest.raises(JwtRejected, match="HTTP 404"):
        cache.keys_for(missing)
    private = client(
        jwks_uri=documents.publish(documents.new_path("jwks.json"), {"keys": [old.private_jwk]})
    )
    with pytest.raises(JwtRejected, match="private key material"):
        cache.keys_for(private)
    nested = client(jwks_uri=documents.publish_raw(documents.new_path("jwks.json"), b"[" * 30_000))
    with pytest.raises(JwtRejected, match="is not JSON"):
        cache.keys_for(nested)
    production = ClientKeys(fetcher=Fetcher(allow_http_loopback=False))
    plain = client(jwks_uri=documents.publish(documents.new_path("jwks.json"), jwks(old)))
    with pytest.raises(JwtRejected, match="must be an https URL"):
        production.keys_for(plain)
