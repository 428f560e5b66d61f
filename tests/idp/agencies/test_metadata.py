"""Client metadata rules: idp/agencies/metadata.py (RFC 7591 §2, OIDC Dynamic Client
Registration §2, RFC 8252 for redirect URIs). Each rule has a document that passes and one
that fails with the right error code and a description naming the problem."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from idp.agencies.fetch import MAX_BYTES, Fetcher
from idp.agencies.metadata import InvalidClientMetadata, Registration, validate
from idp.agencies.models import Agency
from idp.authn.assurance import SUPPORTED_ACR_VALUES
from tests.client_keys import ClientKey, ec_key, jwks, rsa_key
from tests.documents import DocumentServer

CALLBACK = "https://tax.example.gov.kh/callback"
LOOPBACK = Fetcher(allow_http_loopback=True)
REDIRECT, METADATA = "invalid_redirect_uri", "invalid_client_metadata"


def doc(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"client_name": "Tax Office", "redirect_uris": [CALLBACK]}
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


def accepted(
    document: dict[str, Any], *, agency: Agency | None = None, fetcher: Fetcher = LOOPBACK
) -> Registration:
    return validate(document, agency=agency, fetcher=fetcher)


def refused(
    document: Any,
    error: str,
    words: str,
    *,
    agency: Agency | None = None,
    fetcher: Fetcher = LOOPBACK,
) -> None:
    """The document is refused with `error`, and the description says `words`."""
    with pytest.raises(InvalidClientMetadata) as caught:
        validate(document, agency=agency, fetcher=fetcher)
    assert caught.value.error == error, caught.value.description
    assert words in caught.value.description, caught.value.description


def agency(**fields: Any) -> Agency:
    """An agency as an administrator configured it (validation reads only these fields)."""
    return Agency(id="a1", name="Ministry of Examples", status="active", **fields)


@pytest.fixture(scope="module")
def rsa() -> ClientKey:
    return rsa_key()


@pytest.fixture(scope="module")
def es() -> ClientKey:
    return ec_key()


# The document itself


@pytest.mark.parametrize("document", [[], "client", 42, None])
def test_a_registration_is_a_json_object(document: Any) -> None:
    refused(document, METADATA, "must be a JSON object")


def test_a_minimal_web_client_gets_the_defaults() -> None:
    registration = accepted(doc())
    assert registration.token_endpoint_auth_method == "client_secret_basic"
    assert registration.grant_types == ["authorization_code"]
    assert registration.document["response_types"] == ["code"]
    assert registration.subject_type == "pairwise"
    assert registration.sector_identifier == "tax.example.gov.kh"
    assert registration.id_token_signed_response_alg == "RS256"
    assert registration.scope == "address email offline_access openid phone profile"


# Redirect URIs (RFC 8252 §7, OIDC Registration §2)


@pytest.mark.parametrize(
    "uri",
    [
        CALLBACK,
        "https://tax.example.gov.kh:8443/oidc/callback?tenant=1",  # a query is part of it
        "http://localhost:8080/callback",  # loopback for development (RFC 8252 §7.3)
        "http://127.0.0.1:49152/callback",
        "http://[::1]:8080/callback",
    ],
)
def test_redirect_uri_accepted(uri: str) -> None:
    assert accepted(doc(redirect_uris=[uri])).redirect_uris == [uri]


@pytest.mark.parametrize(
    ("uri", "words"),
    [
        ("http://tax.example.gov.kh/callback", "must use https"),
        ("http://192.168.1.10/callback", "must use https"),
        ("ftp://tax.example.gov.kh/callback", "must use https"),
        ("https:///callback", "must use https"),  # no host
        ("", "must use https"),
        ("https://tax.example.gov.kh/callback#done", "has a fragment"),
        ("https://tax.example.gov.kh/callback#", "has a fragment"),
        ("https://*.example.gov.kh/callback", "has a wildcard"),
        ("https://tax.example.gov.kh/*", "has a wildcard"),
        ("https://dara:secret@tax.example.gov.kh/callback", "has a user name or password"),
        ("https://dara@tax.example.gov.kh/callback", "has a user name or password"),
        ("https://tax.example.gov.kh:99999/callback", "is not a valid URL"),
        ("https://tax.example.gov.kh/" + "a" * 2000, "is longer than 2000 characters"),
        ("javascript:alert(1)", "must use https"),
        ("kh.gov.tax.app:/callback", "must use https"),  # private-use: public clients only
    ],
)
def test_redirect_uri_refused(uri: str, words: str) -> None:
    refused(doc(redirect_uris=[uri]), REDIRECT, words)
    refused(doc(redirect_uris=[uri]), REDIRECT, f"redirect_uri {uri[:200]!r}")


@pytest.mark.parametrize(
    "uri",
    ["kh.gov.tax.app:/callback", "kh.gov.tax.app:callback", "kh.gov.tax.app://callback"],
)
def test_private_use_scheme_in_reverse_domain_form_for_a_public_client(uri: str) -> None:
    registration = accepted(doc(redirect_uris=[uri], token_endpoint_auth_method="none"))
    assert registration.redirect_uris == [uri]
    assert registration.sector_identifier == "kh.gov.tax.app"


@pytest.mark.parametrize(
    ("uri", "words"),
    [
        ("taxapp:/callback", "must use https"),  # not reverse-domain
        ("http://tax.example.gov.kh/callback", "must use https"),
        ("kh.gov.tax.app:/callback#x", "has a fragment"),
    ],
)
def test_a_public_client_keeps_the_other_rules(uri: str, words: str) -> None:
    refused(doc(redirect_uris=[uri], token_endpoint_auth_method="none"), REDIRECT, words)


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ([42], "redirect_uris must be an array of strings"),
        ([CALLBACK, None], "redirect_uris must be an array of strings"),
        (CALLBACK, "redirect_uris must be an array of strings"),  # one string, not an array
        ({"uri": CALLBACK}, "redirect_uris must be an array of strings"),
        ([f"{CALLBACK}/{i}" for i in range(21)], "redirect_uris may have at most 20"),
        ([], "redirect_uris is required"),
    ],
)
def test_redirect_uris_must_be_a_short_array_of_strings(value: Any, words: str) -> None:
    refused(doc(redirect_uris=value), REDIRECT, words)


def test_redirect_uris_are_required_for_the_code_flow_only() -> None:
    refused(doc(redirect_uris=None), REDIRECT, "redirect_uris is required")
    machine = accepted(
        doc(redirect_uris=None, grant_types=["client_credentials"], scope="tax.read")
    )
    assert machine.redirect_uris == []


def test_duplicate_redirect_uris_are_kept_once_in_order() -> None:
    other = "https://tax.example.gov.kh/other"
    registration = accepted(doc(redirect_uris=[CALLBACK, other, CALLBACK]))
    assert registration.redirect_uris == [CALLBACK, other]


# Post-logout redirect URIs (RP-Initiated Logout §3.1): the same rules


def test_post_logout_redirect_uris_accepted() -> None:
    uris = ["https://tax.example.gov.kh/signed-out", "http://localhost:8400/signed-out"]
    registration = accepted(doc(post_logout_redirect_uris=uris))
    assert registration.post_logout_redirect_uris == uris
    assert registration.document["post_logout_redirect_uris"] == uris


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (["http://tax.example.gov.kh/signed-out"], "must use https"),
        (["https://tax.example.gov.kh/signed-out#x"], "has a fragment"),
        (["https://*.example.gov.kh/"], "has a wildcard"),
        ([7], "post_logout_redirect_uris must be an array of strings"),
        ("https://tax.example.gov.kh/", "post_logout_redirect_uris must be an array"),
    ],
)
def test_post_logout_redirect_uri_refused(value: Any, words: str) -> None:
    refused(doc(post_logout_redirect_uris=value), REDIRECT, words)


def test_post_logout_redirect_uri_error_names_its_field() -> None:
    refused(
        doc(post_logout_redirect_uris=["http://tax.example.gov.kh/out"]),
        REDIRECT,
        "post_logout_redirect_uri 'http://tax.example.gov.kh/out'",
    )


# grant_types and response_types (RFC 7591 §2.1)


@pytest.mark.parametrize(
    ("fields", "grant_types", "response_types"),
    [
        ({}, ["authorization_code"], ["code"]),
        (
            {"grant_types": ["authorization_code", "refresh_token"]},
            ["authorization_code", "refresh_token"],
            ["code"],
        ),
        ({"response_types": ["code"]}, ["authorization_code"], ["code"]),
        (
            {"grant_types": ["client_credentials"], "redirect_uris": None, "scope": "tax.read"},
            ["client_credentials"],
            [],
        ),
        (
            {"grant_types": ["authorization_code", "client_credentials"], "scope": "tax.read"},
            ["authorization_code", "client_credentials"],
            ["code"],
        ),
    ],
)
def test_grant_and_response_types_accepted(
    fields: dict[str, Any], grant_types: list[str], response_types: list[str]
) -> None:
    registration = accepted(doc(**fields))
    assert registration.grant_types == grant_types
    assert registration.document["response_types"] == response_types


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"grant_types": ["implicit"]}, "grant_types may only be"),
        ({"grant_types": ["authorization_code", "password"]}, "grant_types may only be"),
        ({"grant_types": "authorization_code"}, "grant_types must be an array of strings"),
        ({"response_types": ["token"]}, 'response_types may only be ["code"]'),
        ({"response_types": ["code", "id_token"]}, 'response_types may only be ["code"]'),
        ({"response_types": ["code id_token"]}, 'response_types may only be ["code"]'),
        (
            {"grant_types": ["client_credentials"], "response_types": ["code"]},
            "response_types code and grant_types authorization_code go together",
        ),
        (
            {"grant_types": ["client_credentials"], "token_endpoint_auth_method": "none"},
            "client_credentials needs a confidential client",
        ),
    ],
)
def test_grant_and_response_types_refused(fields: dict[str, Any], words: str) -> None:
    refused(doc(**fields), METADATA, words)


# token_endpoint_auth_method


@pytest.mark.parametrize(
    "method", ["client_secret_basic", "client_secret_post", "none", "private_key_jwt"]
)
def test_auth_methods_accepted(method: str, rsa: ClientKey) -> None:
    keys = {"jwks": jwks(rsa)} if method == "private_key_jwt" else {}
    registration = accepted(doc(token_endpoint_auth_method=method, **keys))
    assert registration.token_endpoint_auth_method == method


@pytest.mark.parametrize(
    "method", ["client_secret_jwt", "tls_client_auth", "PRIVATE_KEY_JWT", "", 1]
)
def test_other_auth_methods_refused(method: Any) -> None:
    refused(
        doc(token_endpoint_auth_method=method),
        METADATA,
        "token_endpoint_auth_method must be one of: private_key_jwt, client_secret_basic",
    )


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_id_token_signing_alg_accepted(alg: str) -> None:
    assert accepted(doc(id_token_signed_response_alg=alg)).id_token_signed_response_alg == alg


@pytest.mark.parametrize("alg", ["none", "HS256", "PS256", "RS512"])
def test_id_token_signing_alg_refused(alg: str) -> None:
    refused(
        doc(id_token_signed_response_alg=alg),
        METADATA,
        "id_token_signed_response_alg must be one of: RS256, ES256",
    )


# jwks and jwks_uri (RFC 7591 §2)


def test_jwks_with_rsa_and_ec_keys_accepted(rsa: ClientKey, es: ClientKey) -> None:
    keys = jwks(rsa, es)
    registration = accepted(doc(token_endpoint_auth_method="private_key_jwt", jwks=keys))
    assert registration.jwks == keys
    assert registration.jwks_uri is None
    assert registration.document["jwks"] == keys


def test_a_single_key_without_kid_or_alg_is_accepted(rsa: ClientKey) -> None:
    bare = {k: v for k, v in rsa.jwk.items() if k not in ("kid", "alg", "use")}
    accepted(doc(token_endpoint_auth_method="private_key_jwt", jwks={"keys": [bare]}))


def test_jwks_uri_accepted() -> None:
    uri = "https://tax.example.gov.kh/.well-known/jwks.json"
    registration = accepted(doc(token_endpoint_auth_method="private_key_jwt", jwks_uri=uri))
    assert registration.jwks_uri == uri
    assert registration.jwks is None


def test_jwks_and_jwks_uri_are_exclusive(rsa: ClientKey) -> None:
    refused(
        doc(jwks=jwks(rsa), jwks_uri="https://tax.example.gov.kh/jwks.json"),
        METADATA,
        "give jwks or jwks_uri, not both",
    )


def test_private_key_jwt_needs_keys() -> None:
    refused(
        doc(token_endpoint_auth_method="private_key_jwt"),
        METADATA,
        "private_key_jwt needs jwks or jwks_uri",
    )


@pytest.mark.parametrize(
    "uri",
    [
        "http://tax.example.gov.kh/jwks.json",
        "https://tax.example.gov.kh/jwks.json#keys",
        "https://user:pw@tax.example.gov.kh/jwks.json",
        "jwks.json",
    ],
)
def test_jwks_uri_must_be_https(uri: str) -> None:
    refused(
        doc(token_endpoint_auth_method="private_key_jwt", jwks_uri=uri),
        METADATA,
        "jwks_uri must be an https URL",
    )


def test_jwks_with_private_members_refused(rsa: ClientKey, es: ClientKey) -> None:
    for key in (rsa, es):
        refused(
            doc(token_endpoint_auth_method="private_key_jwt", jwks={"keys": [key.private_jwk]}),
            METADATA,
            "jwks: the JWKS holds private key material",
        )


def test_symmetric_keys_refused() -> None:
    octet = {"kty": "oct", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0", "kid": "k1"}
    refused(
        doc(token_endpoint_auth_method="private_key_jwt", jwks={"keys": [octet]}),
        METADATA,
        "jwks: keys must be RSA or EC (P-256)",
    )


def test_rsa_keys_under_2048_bits_refused() -> None:
    small = rsa_key(bits=1024)
    refused(
        doc(token_endpoint_auth_method="private_key_jwt", jwks=jwks(small)),
        METADATA,
        "jwks: RSA keys must have at least 2048 bits",
    )


@pytest.mark.parametrize("curve", [ec.SECP384R1()])
def test_ec_keys_other_than_p256_refused(curve: ec.EllipticCurve) -> None:
    key = ec_key(curve=curve)
    refused(
        doc(token_endpoint_auth_method="private_key_jwt", jwks=jwks(key)),
        METADATA,
        "jwks: EC keys must be on P-256",
    )


@pytest.mark.parametrize(
    ("which", "change", "words"),
    [
        ("rsa", {"alg": "ES256"}, "a RSA key here signs with RS256"),
        ("rsa", {"alg": "RS512"}, "a RSA key here signs with RS256"),
        ("rsa", {"alg": "HS256"}, "a RSA key here signs with RS256"),
        ("rsa", {"use": "enc"}, "a RSA key here signs with RS256 (use sig)"),
        ("es", {"alg": "RS256"}, "a EC key here signs with ES256"),
        ("es", {"alg": "ES384"}, "a EC key here signs with ES256"),
    ],
)
def test_key_and_alg_must_agree(
    rsa: ClientKey, es: ClientKey, which: str, change: dict[str, str], words: str
) -> None:
    member = {**(rsa if which == "rsa" else es).jwk, **change}
    refused(
        doc(token_endpoint_auth_method="private_key_jwt", jwks={"keys": [member]}),
        METADATA,
        f"jwks: {words}",
    )


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ({"keys": []}, 'a JWKS is an object {"keys": [...]} with at least one key'),
        ([], 'a JWKS is an object {"keys": [...]} with at least one key'),
        ({"keys": "all"}, 'a JWKS is an object {"keys": [...]} with at least one key'),
        ({"keys": ["key"]}, "every key must be a JSON object"),
    ],
)
def test_jwks_must_be_a_key_set(value: Any, words: str) -> None:
    refused(
        doc(token_endpoint_auth_method="private_key_jwt", jwks=value), METADATA, f"jwks: {words}"
    )


def test_several_keys_each_need_a_kid(rsa: ClientKey, es: ClientKey) -> None:
    unnamed = [{k: v for k, v in key.jwk.items() if k != "kid"} for key in (rsa, es)]
    refused(
        doc(token_endpoint_auth_method="private_key_jwt", jwks={"keys": unnamed}),
        METADATA,
        "jwks: with several keys, each needs a kid",
    )


def test_a_jwks_holds_at_most_20_keys(rsa: ClientKey) -> None:
    many = {"keys": [{**rsa.jwk, "kid": f"k{i}"} for i in range(21)]}
    refused(
        doc(token_endpoint_auth_method="private_key_jwt", jwks=many),
        METADATA,
        "jwks: a JWKS may hold at most 20 keys",
    )


# subject_type (OIDC Core §8)


def test_subject_type_is_pairwise_by_default_and_on_request() -> None:
    assert accepted(doc(subject_type="pairwise")).subject_type == "pairwise"


def test_public_subjects_need_the_agencys_permission() -> None:
    words = "subject_type public needs an administrator's permission"
    refused(doc(subject_type="public"), METADATA, words)  # no agency at all
    refused(doc(subject_type="public"), METADATA, words, agency=agency())
    permitted = agency(allows_public_subjects=True)
    assert accepted(doc(subject_type="public"), agency=permitted).subject_type == "public"


@pytest.mark.parametrize("value", ["PUBLIC", "global", 1])
def test_other_subject_types_refused(value: Any) -> None:
    refused(doc(subject_type=value), METADATA, "subject_type must be one of: pairwise, public")


# Sectors (OIDC Core §8.1): sector_identifier_uri, the agency's sector, or the one host


def test_the_sector_is_the_one_host_of_the_redirect_uris() -> None:
    registration = accepted(doc(redirect_uris=[CALLBACK, "https://tax.example.gov.kh:8443/other"]))
    assert registration.sector_identifier == "tax.example.gov.kh"


def test_redirect_uris_on_several_hosts_need_a_sector_identifier_uri() -> None:
    refused(
        doc(redirect_uris=[CALLBACK, "https://customs.example.gov.kh/callback"]),
        METADATA,
        "redirect_uris on several hosts need a sector_identifier_uri",
    )


def test_the_agencys_sector_is_used(rsa: ClientKey) -> None:
    mef = agency(sector="mef.gov.kh")
    one_host = accepted(doc(), agency=mef)
    assert one_host.sector_identifier == "mef.gov.kh"
    two_hosts = accepted(
        doc(redirect_uris=[CALLBACK, "https://customs.example.gov.kh/callback"]), agency=mef
    )
    assert two_hosts.sector_identifier == "mef.gov.kh"
    machine = accepted(
        doc(redirect_uris=None, grant_types=["client_credentials"], scope="tax.read"),
        agency=mef,
    )
    assert machine.sector_identifier == "mef.gov.kh"


def test_sector_identifier_uri_listing_every_redirect_uri(documents: DocumentServer) -> None:
    uris = [CALLBACK, "https://customs.example.gov.kh/callback"]
    path = documents.new_path("sector.json")
    url = documents.publish(path, [*uris, "https://tax.example.gov.kh/unused"])
    registration = accepted(doc(redirect_uris=uris, sector_identifier_uri=url))
    assert registration.sector_identifier == "127.0.0.1"  # the document's host
    assert registration.document["sector_identifier_uri"] == url
    assert documents.hits(path) == 1  # fetched and checked at registration
    # it outranks the agency's sector
    assert accepted(
        doc(redirect_uris=uris, sector_identifier_uri=url), agency=agency(sector="mef.gov.kh")
    ).sector_identifier == ("127.0.0.1")


def test_sector_identifier_uri_missing_a_redirect_uri(documents: DocumentServer) -> None:
    url = documents.publish(documents.new_path("sector.json"), [CALLBACK])
    refused(
        doc(
            redirect_uris=[CALLBACK, "https://customs.example.gov.kh/callback"],
            sector_identifier_uri=url,
        ),
        METADATA,
        "sector_identifier_uri must return a JSON array holding every redirect_uri",
    )


@pytest.mark.parametrize(
    "listed",
    [{"redirect_uris": [CALLBACK]}, CALLBACK, None, [[CALLBACK]], [{"uri": CALLBACK}, 1]],
)
def test_sector_identifier_uri_must_return_an_array(documents: DocumentServer, listed: Any) -> None:
    url = documents.publish(documents.new_path("sector.json"), listed)
    refused(
        doc(sector_identifier_uri=url),
        METADATA,
        "sector_identifier_uri must return a JSON array holding every redirect_uri",
    )


def test_sector_identifier_uri_that_is_not_json(documents: DocumentServer) -> None:
    path = documents.new_path("sector.html")
    url = documents.publish_raw(path, b"<html>redirect URIs</html>", content_type="text/html")
    refused(doc(sector_identifier_uri=url), METADATA, "sector_identifier_uri: ")
    refused(doc(sector_identifier_uri=url), METADATA, "is not JSON")


def test_sector_identifier_uri_nested_past_any_need(documents: DocumentServer) -> None:
    url = documents.publish_raw(documents.new_path("sector.json"), b"[" * 30_000 + b"]" * 30_000)
    refused(doc(sector_identifier_uri=url), METADATA, "is not JSON")


def test_sector_identifier_uri_too_large(documents: DocumentServer) -> None:
    padding = [f"https://tax.example.gov.kh/{i:08d}" for i in range(MAX_BYTES // 30)]
    body = json.dumps([CALLBACK, *padding]).encode()
    assert len(body) > MAX_BYTES
    url = documents.publish_raw(documents.new_path("sector.json"), body)
    refused(doc(sector_identifier_uri=url), METADATA, f"is larger than {MAX_BYTES} bytes")


@pytest.mark.parametrize(("status", "words"), [(404, "HTTP 404"), (302, "HTTP 302")])
def test_sector_identifier_uri_must_answer_200(
    documents: DocumentServer, status: int, words: str
) -> None:
    url = documents.publish_raw(documents.new_path("sector.json"), b"[]", status=status)
    refused(doc(sector_identifier_uri=url), METADATA, words)


def test_sector_identifier_uri_that_cannot_be_reached() -> None:
    url = "http://127.0.0.1:9/sector.json"  # the discard port: nothing listens there
    refused(doc(sector_identifier_uri=url), METADATA, "could not be fetched")


def test_sector_identifier_uri_over_http_only_for_a_development_provider(
    documents: DocumentServer,
) -> None:
    url = documents.publish(documents.new_path("sector.json"), [CALLBACK])
    production = Fetcher(allow_http_loopback=False)
    refused(doc(sector_identifier_uri=url), METADATA, "must be an https URL", fetcher=production)
    refused(
        doc(sector_identifier_uri="http://tax.example.gov.kh/sector.json"),
        METADATA,
        "sector_identifier_uri must be an https URL",
    )


# Contacts, default_max_age, require_auth_time, default_acr_values, consent_ttl_days


def test_contacts_accepted() -> None:
    contacts = ["it@tax.example.gov.kh", "dara.sok@mef.example.gov.kh"]
    assert accepted(doc(contacts=contacts)).document["contacts"] == contacts


@pytest.mark.parametrize(
    ("contacts", "words"),
    [
        (["Tax Office IT"], "contacts must be e-mail addresses"),
        (["it@tax@example"], "contacts must be e-mail addresses"),
        (["it @tax.example.gov.kh"], "contacts must be e-mail addresses"),
        ("it@tax.example.gov.kh", "contacts must be an array of strings"),
        ([f"it{i}@tax.example.gov.kh" for i in range(11)], "contacts may have at most 10"),
    ],
)
def test_contacts_refused(contacts: Any, words: str) -> None:
    refused(doc(contacts=contacts), METADATA, words)


@pytest.mark.parametrize("seconds", [0, 3600, 10**8])
def test_default_max_age_accepted(seconds: int) -> None:
    assert accepted(doc(default_max_age=seconds)).document["default_max_age"] == seconds


@pytest.mark.parametrize("seconds", [-1, 10**8 + 1, "3600", 3600.5, True])
def test_default_max_age_refused(seconds: Any) -> None:
    refused(doc(default_max_age=seconds), METADATA, "default_max_age must be a number of seconds")


def test_require_auth_time() -> None:
    assert accepted(doc(require_auth_time=True)).document["require_auth_time"] is True
    assert accepted(doc()).document["require_auth_time"] is False
    refused(doc(require_auth_time="yes"), METADATA, "require_auth_time must be true or false")


def test_default_acr_values_accepted() -> None:
    values = list(SUPPORTED_ACR_VALUES)
    assert accepted(doc(default_acr_values=values)).document["default_acr_values"] == values


@pytest.mark.parametrize(
    ("values", "words"),
    [
        (["urn:citizen-idp:acr:made-up"], "default_acr_values may be: "),
        (["loa4"], "default_acr_values may be: "),
        ("urn:citizen-idp:acr:self-asserted:basic", "default_acr_values must be an array"),
    ],
)
def test_default_acr_values_refused(values: Any, words: str) -> None:
    refused(doc(default_acr_values=values), METADATA, words)


@pytest.mark.parametrize("days", [1, 90, 3650])
def test_consent_ttl_days_accepted(days: int) -> None:
    assert accepted(doc(consent_ttl_days=days)).document["consent_ttl_days"] == days


@pytest.mark.parametrize("days", [0, 3651, "30", True])
def test_consent_ttl_days_refused(days: Any) -> None:
    refused(doc(consent_ttl_days=days), METADATA, "consent_ttl_days must be 1 to 3650")


# Scope


def test_scope_is_normalised_and_openid_added() -> None:
    registration = accepted(doc(scope="profile phone profile"))
    assert registration.scope == "openid phone profile"


def test_api_scopes_for_client_credentials() -> None:
    registration = accepted(
        doc(
            redirect_uris=None,
            grant_types=["client_credentials"],
            scope="tax.read tax:write customs-api",
        )
    )
    assert registration.scope == "customs-api tax.read tax:write"  # no openid added


@pytest.mark.parametrize(
    ("scope", "words"),
    [
        ("openid Profile", "unknown scope values: Profile"),
        ("openid x", "unknown scope values: x"),  # an API scope has two characters or more
        ("openid tax/read", "unknown scope values: tax/read"),
        (["openid"], "scope must be a space-separated string"),
        ("openid " + "a" * 1000, "scope must be a space-separated string"),
    ],
)
def test_scope_refused(scope: Any, words: str) -> None:
    refused(doc(scope=scope), METADATA, words)


# Names, purposes and the agency's pages


def test_client_name_in_english_and_khmer() -> None:
    registration = accepted(
        doc(
            client_name="  Tax Office  ",
            **{"client_name#km": "ការិយាល័យពន្ធដារ", "client_name#en": "Tax Office"},
        )
    )
    assert registration.client_name == "Tax Office"  # trimmed
    assert registration.document["client_name#km"] == "ការិយាល័យពន្ធដារ"
    assert registration.document["client_name#en"] == "Tax Office"


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"client_name": None}, "client_name must be text of 1 to 200 characters"),
        ({"client_name": "   "}, "client_name must be text of 1 to 200 characters"),
        ({"client_name": "x" * 201}, "client_name must be text of 1 to 200 characters"),
        ({"client_name": ["Tax"]}, "client_name must be text of 1 to 200 characters"),
        ({"client_name#km": ""}, "client_name#km must be text of 1 to 200 characters"),
        ({"client_name#km": "ព" * 201}, "client_name#km must be text of 1 to 200 characters"),
        ({"client_name#en": 5}, "client_name#en must be text of 1 to 200 characters"),
    ],
)
def test_client_names_refused(fields: dict[str, Any], words: str) -> None:
    document = {**doc(), **fields}
    refused({k: v for k, v in document.items() if v is not None}, METADATA, words)


def test_purposes_in_english_and_khmer() -> None:
    registration = accepted(
        doc(
            purpose={"en": " To file your tax return ", "km": "ដើម្បីដាក់លិខិតប្រកាសពន្ធ"},
            purposes={"phone": {"en": "To text you when your refund is paid"}},
        )
    )
    assert registration.document["purpose"] == {
        "en": "To file your tax return",
        "km": "ដើម្បីដាក់លិខិតប្រកាសពន្ធ",
    }
    assert registration.document["purposes"] == {
        "phone": {"en": "To text you when your refund is paid"}
    }


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"purpose": "To file your tax return"}, "purpose must map en and/or km to texts"),
        ({"purpose": {}}, "purpose must map en and/or km to texts"),
        ({"purpose": {"fr": "Pour vos impôts"}}, "purpose must map en and/or km to texts"),
        ({"purpose": {"en": ""}}, "purpose must map en and/or km to texts"),
        ({"purpose": {"en": "x" * 501}}, "purpose must map en and/or km to texts"),
        ({"purposes": ["phone"]}, "purposes maps scope or claim names to {en, km} texts"),
        (
            {"purposes": {f"claim{i}": {"en": "why"} for i in range(31)}},
            "purposes maps scope or claim names to {en, km} texts",
        ),
        (
            {"purposes": {"phone": {"en": 3}}},
            "purposes.phone must map en and/or km to texts",
        ),
    ],
)
def test_purposes_refused(fields: dict[str, Any], words: str) -> None:
    refused(doc(**fields), METADATA, words)


@pytest.mark.parametrize(
    "name",
    [
        "logo_uri",
        "policy_uri",
        "tos_uri",
        "client_uri",
        "backchannel_logout_uri",
        "consent_event_uri",
    ],
)
def test_agency_pages_must_be_https(name: str) -> None:
    good = "https://tax.example.gov.kh/page"
    assert accepted(doc(**{name: good})).document[name] == good
    refused(
        doc(**{name: "http://tax.example.gov.kh/page"}),
        METADATA,
        f"{name} must be an https URL",
    )
    refused(doc(**{name: 42}), METADATA, f"{name} must be an https URL")


def test_unknown_members_are_not_kept() -> None:
    registration = accepted(doc(software_statement="eyJ...", client_name_fr="Impôts"))
    assert "software_statement" not in registration.document
    assert "client_name_fr" not in registration.document
