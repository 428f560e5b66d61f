"""Proofing cases end to end through the pages: submission, review, dual control, rejection
with a reason, duplicates, and the higher acr and verified_claims an agency then receives."""

from __future__ import annotations

import json

import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from idp.accounts.models import Citizen
from idp.admin.access import PROOFING_OFFICER
from idp.audit.models import AuditEvent
from idp.authn.assurance import Level
from idp.proofing.models import APPROVED, AWAITING_SECOND, REJECTED, SUBMITTED
from idp.provider import Provider
from tests.factories import MadeCitizen, make_citizen, make_client, make_staff
from tests.flows import (
    approve_consent,
    authorize_params,
    jwt_part,
    obtain_tokens,
    other_browser,
    query_of,
    redeem,
    sign_in,
    sign_in_as_staff,
)
from tests.proofing import JPEG, PNG, decide, evidence, latest_case, officer, submit

VERIFIED_REMOTE_BASIC = Level(1, 1).acr
VERIFIED_CLAIMS_REQUEST = json.dumps(
    {
        "id_token": {
            "verified_claims": {
                "verification": {"trust_framework": None},
                "claims": {"given_name": None, "family_name": None, "birthdate": None},
            }
        }
    }
)


@pytest.fixture(autouse=True)
def english(client: TestClient) -> None:
    client.headers["Accept-Language"] = "en"


@pytest.fixture
def citizen(client: TestClient, provider: Provider) -> MadeCitizen:
    made = make_citizen(provider)
    sign_in(client, made)
    return made


def citizen_row(provider: Provider, citizen_id: str) -> Citizen:
    with provider.sessions.begin() as session:
        row = session.get(Citizen, citizen_id)
        assert row is not None
        session.expunge(row)
        return row


def test_a_full_case_raises_the_acr_and_releases_verified_claims(
    app: FastAPI, client: TestClient, provider: Provider, citizen: MadeCitizen
) -> None:
    rp = make_client(provider)
    before = obtain_tokens(client, rp, citizen)
    assert jwt_part(before["id_token"], 1)["acr"].endswith(":self-asserted:basic")

    sent = submit(client, evidence(given_name="Sophea", birthdate="1988-02-03"))
    assert sent.status_code == 303, sent.text
    case = latest_case(provider, citizen.id)
    assert case.status == SUBMITTED
    assert 'data-status="submitted"' in client.get("/account/identity").text

    first, second = officer(app, provider), officer(app, provider)
    assert "Sophea" not in first.get("/admin/proofing").text  # the queue holds no names
    assert case.id[:8] in first.get("/admin/proofing").text
    page = first.get(f"/admin/proofing/{case.id}")
    assert page.status_code == 200 and "Sophea" in page.text
    assert first.get(f"/admin/proofing/{case.id}/photo").content == PNG

    assert decide(first, case.id, "approve").status_code == 303
    assert latest_case(provider, citizen.id).status == AWAITING_SECOND
    again = decide(first, case.id, "approve")  # the same officer twice is not two officers
    assert again.status_code == 400 and "A second officer must approve" in again.text
    assert citizen_row(provider, citizen.id).identity_level == "self-asserted"

    assert decide(second, case.id, "approve").status_code == 303
    assert latest_case(provider, citizen.id).status == APPROVED
    verified = citizen_row(provider, citizen.id)
    assert verified.identity_level == "verified-remote"
    assert verified.given_name == "Sophea"
    assert 'data-level="verified-remote"' in client.get("/account/identity").text

    # the same session, no new sign-in: the next authorization carries the new level
    tokens = obtain_tokens(
        client,
        rp,
        citizen,
        acr_values=VERIFIED_REMOTE_BASIC,
        claims=VERIFIED_CLAIMS_REQUEST,
        prompt="consent",
    )
    claims = jwt_part(tokens["id_token"], 1)
    assert claims["acr"] == VERIFIED_REMOTE_BASIC
    assert claims["verified_claims"]["claims"] == {
        "given_name": "Sophea",
        "family_name": "Sok",
        "birthdate": "1988-02-03",
    }
    verification = claims["verified_claims"]["verification"]
    assert verification["trust_framework"] == "kh_citizen_idp"
    assert verification["evidence"][0]["type"] == "document"
    assert verification["evidence"][0]["verifier"]["txn"] == case.id
    assert "time" in verification
    # not asked for: not released, even with consent on record
    plain = obtain_tokens(client, rp, citizen)
    assert "verified_claims" not in jwt_part(plain["id_token"], 1)


def test_verified_claims_need_consent(
    app: FastAPI, client: TestClient, provider: Provider, citizen: MadeCitizen
) -> None:
    case_id = approved_case(app, client, provider, citizen)
    rp = make_client(provider, purposes={"verified_claims": {"en": "To open your tax file"}})
    params = authorize_params(rp, claims=VERIFIED_CLAIMS_REQUEST)
    response = client.get("/authorize", params={k: v for k, v in params.items() if k[0] != "_"})
    consent = client.get(response.headers["location"])
    assert "Your identity as checked by an officer" in consent.text
    assert "To open your tax file" in consent.text
    tokens = obtain_tokens(client, rp, citizen, claims=VERIFIED_CLAIMS_REQUEST)
    assert jwt_part(tokens["id_token"], 1)["verified_claims"]["verification"]["evidence"]
    assert case_id


def approved_case(
    app: FastAPI, client: TestClient, provider: Provider, citizen: MadeCitizen, **fields: str
) -> str:
    assert submit(client, evidence(**fields)).status_code == 303
    case = latest_case(provider, citizen.id)
    for browser in (officer(app, provider), officer(app, provider)):
        assert decide(browser, case.id, "approve").status_code == 303
    return case.id


def test_declined_verified_claims_are_not_released(
    app: FastAPI, client: TestClient, provider: Provider, citizen: MadeCitizen
) -> None:
    approved_case(app, client, provider, citizen)
    rp = make_client(provider)
    params = authorize_params(rp, claims=VERIFIED_CLAIMS_REQUEST)
    response = client.get("/authorize", params={k: v for k, v in params.items() if k[0] != "_"})
    location = approve_consent(
        client, response.headers["location"], untick=("claim:verified_claims",)
    )
    code = query_of(location)["code"]
    tokens = redeem(client, rp, code, params["_verifier"]).json()
    assert "verified_claims" not in jwt_part(tokens["id_token"], 1)


def test_rejection_shows_the_reason_to_the_citizen(
    app: FastAPI, client: TestClient, provider: Provider, citizen: MadeCitizen
) -> None:
    assert submit(client, evidence(), photo=JPEG, name="card.jpg").status_code == 303
    case = latest_case(provider, citizen.id)
    reviewer = officer(app, provider)
    assert decide(reviewer, case.id, "reject").status_code == 400  # a reason is required
    done = decide(reviewer, case.id, "reject", reason="The photo is blurred; send a sharp one.")
    assert done.status_code == 303
    assert latest_case(provider, citizen.id).status == REJECTED
    page = client.get("/account/identity").text
    assert "The photo is blurred; send a sharp one." in page
    assert 'data-status="rejected"' in page
    assert citizen_row(provider, citizen.id).identity_level == "self-asserted"
    assert decide(officer(app, provider), case.id, "approve").status_code == 400  # decided


def test_a_second_account_with_a_verified_national_id_is_flagged_not_merged(
    app: FastAPI, client: TestClient, provider: Provider, citizen: MadeCitizen
) -> None:
    shared = evidence()
    approved_case(app, client, provider, citizen, national_id=shared["national_id"])
    other = make_citizen(provider)
    with other_browser(app) as browser:
        browser.headers["Accept-Language"] = "en"
        sign_in(browser, other)
        assert submit(browser, {**shared, "national_id": shared["national_id"]}).status_code == 303
    case = latest_case(provider, other.id)
    assert case.duplicate_of == citizen.id
    reviewer = officer(app, provider)
    assert "Duplicate national ID" in reviewer.get("/admin/proofing").text
    assert (
        "Another account holds a verified identity"
        in reviewer.get(f"/admin/proofing/{case.id}").text
    )
    assert citizen_row(provider, other.id).identity_level == "self-asserted"
    decide(reviewer, case.id, "reject", reason="This card belongs to another account.")
    assert citizen_row(provider, citizen.id).phone_number == citizen.phone_number
    with provider.sessions.begin() as session:
        flagged = session.query(AuditEvent).filter_by(
            action="proofing.duplicate_flagged", citizen_id=other.id
        )
        assert flagged.count() == 1


def test_officers_cannot_decide_their_own_case(
    app: FastAPI, client: TestClient, provider: Provider
) -> None:
    made = make_staff(provider, PROOFING_OFFICER)
    sign_in_as_staff(client, provider, made)
    assert submit(client, evidence()).status_code == 303
    case = latest_case(provider, made.id)
    assert client.get(f"/admin/proofing/{case.id}").status_code == 403
    assert client.get(f"/admin/proofing/{case.id}/photo").status_code == 403
    assert case.id not in client.get("/admin/proofing").text
    assert decide(client, case.id, "approve").status_code == 403


@pytest.mark.parametrize(
    ("change", "photo", "message"),
    [
        ({"national_id": "12AB"}, PNG, "9 to 12 digits"),
        ({"birthdate": "2999-01-01"}, PNG, "date of birth"),
        ({"sex": "other"}, PNG, "Choose your sex"),
        ({"commune": ""}, PNG, "province, district and commune"),
        ({"given_name": "\x00"}, PNG, "given and family names"),
        ({}, b"GIF89a" + b"\x00" * 50, "JPEG or PNG"),
        ({}, None, "Add a photo"),
    ],
)
def test_bad_evidence_is_refused_with_a_message(
    client: TestClient,
    citizen: MadeCitizen,
    change: dict[str, str],
    photo: bytes | None,
    message: str,
) -> None:
    response = submit(client, evidence(**change), photo=photo)
    assert response.status_code == 400
    assert message in response.text


def test_photo_size_limits(client: TestClient, provider: Provider, citizen: MadeCitizen) -> None:
    limit = provider.settings.proofing_photo_max_bytes
    too_large = submit(client, evidence(), photo=PNG + b"\x00" * limit)
    assert too_large.status_code in (400, 413)
    # the larger body is allowed on the upload route only
    elsewhere = client.post("/consent", content=b"x" * (200 * 1024))
    assert elsewhere.status_code == 413


def test_one_open_case_at_a_time(
    client: TestClient, provider: Provider, citizen: MadeCitizen
) -> None:
    assert submit(client, evidence()).status_code == 303
    page = client.get("/account/identity")
    assert 'action="/account/identity"' not in page.text
    again = submit(client, evidence())
    assert again.status_code == 400
    assert "already waiting" in again.text


def test_a_form_without_csrf_token_is_refused(
    client: TestClient, provider: Provider, citizen: MadeCitizen
) -> None:
    files = {"photo": ("card.png", PNG, "image/png")}
    response = client.post("/account/identity", data=evidence(), files=files)
    assert response.status_code == 403


def test_a_number_verified_meanwhile_turns_the_case_into_a_recovery(
    app: FastAPI, client: TestClient, provider: Provider, citizen: MadeCitizen
) -> None:
    card = evidence()
    other = make_citizen(provider)
    with other_browser(app) as browser:
        sign_in(browser, other)
        assert submit(browser, card).status_code == 303
    late = latest_case(provider, other.id)
    assert late.duplicate_of is None  # nobody was verified with this number yet
    first = officer(app, provider)
    assert decide(first, late.id, "approve").status_code == 303
    approved_case(app, client, provider, citizen, national_id=card["national_id"])
    refused = decide(officer(app, provider), late.id, "approve")
    assert refused.status_code == 400
    assert "Another account holds a verified identity" in refused.text
    flagged = latest_case(provider, other.id)
    assert flagged.duplicate_of == citizen.id
    assert flagged.status == SUBMITTED and flagged.first_approver is None
    assert citizen_row(provider, other.id).identity_level == "self-asserted"


def test_verified_claims_at_userinfo_and_other_trust_frameworks(
    app: FastAPI, client: TestClient, provider: Provider, citizen: MadeCitizen
) -> None:
    approved_case(app, client, provider, citizen, sex="male")
    rp = make_client(provider)
    asked = {"verification": {"trust_framework": None}, "claims": {"gender": None}}
    tokens = obtain_tokens(
        client, rp, citizen, claims=json.dumps({"userinfo": {"verified_claims": asked}})
    )
    info = client.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert info.json()["verified_claims"]["claims"] == {"gender": "male"}
    assert "verified_claims" not in jwt_part(tokens["id_token"], 1)
    other = {"verification": {"trust_framework": {"value": "eidas"}}, "claims": {"gender": None}}
    tokens = obtain_tokens(
        client, rp, citizen, claims=json.dumps({"id_token": {"verified_claims": other}})
    )
    assert "verified_claims" not in jwt_part(tokens["id_token"], 1)
