"""Recovery by re-proofing: a citizen who lost every factor proves their identity again and
gets back the same account, so every agency sees the same `sub`."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from sqlalchemy import select
from starlette.testclient import TestClient

from idp.accounts.models import Citizen
from idp.admin.access import PROOFING_OFFICER
from idp.authn.models import LoginSession
from idp.proofing.models import APPROVED, IN_PERSON
from idp.provider import Provider
from tests.factories import MadeCitizen, make_citizen, make_client, make_staff
from tests.flows import (
    csrf_token,
    jwt_part,
    obtain_tokens,
    other_browser,
    sign_in,
    sign_in_as_staff,
)
from tests.proofing import PNG, decide, evidence, latest_case, officer, submit


@pytest.fixture(autouse=True)
def english(client: TestClient) -> None:
    client.headers["Accept-Language"] = "en"


def open_in_person(browser: TestClient, citizen: MadeCitizen, fields: dict[str, str]) -> str:
    """An officer opens a case for a person at the office; returns the case page's path."""
    page = browser.get("/admin/proofing/in-person", params={"phone": citizen.phone_number})
    assert page.status_code == 200, page.text
    data = {**fields, "citizen_id": citizen.id, "csrf_token": csrf_token(page.text)}
    response = browser.post("/admin/proofing/in-person", data=data)
    assert response.status_code == 303, response.text
    return str(response.headers["location"])


def test_in_person_case_reaches_the_in_person_level(
    app: FastAPI, client: TestClient, provider: Provider
) -> None:
    person = make_citizen(provider)
    desk, second = officer(app, provider), officer(app, provider)
    location = open_in_person(desk, person, evidence())
    case = latest_case(provider, person.id)
    assert case.channel == IN_PERSON and case.opened_by is not None
    assert location == f"/admin/proofing/{case.id}"
    assert decide(desk, case.id, "approve").status_code == 303
    assert decide(second, case.id, "approve").status_code == 303
    with provider.sessions.begin() as session:
        row = session.get(Citizen, person.id)
        assert row is not None and row.identity_level == "verified-in-person"


def test_recovery_gives_back_the_same_account_and_sub(
    app: FastAPI, client: TestClient, provider: Provider
) -> None:
    original = make_citizen(provider)
    sign_in(client, original)
    rp = make_client(provider)
    sub = jwt_part(obtain_tokens(client, rp, original)["id_token"], 1)["sub"]
    card = evidence()
    assert submit(client, card).status_code == 303
    first_case = latest_case(provider, original.id)
    for browser in (officer(app, provider), officer(app, provider)):
        decide(browser, first_case.id, "approve")

    # phone, password and every session lost; the person signs up again with a new number
    fresh = make_citizen(provider)
    with other_browser(app) as again:
        again.headers["Accept-Language"] = "en"
        sign_in(again, fresh)
        assert submit(again, card).status_code == 303
        case = latest_case(provider, fresh.id)
        assert case.duplicate_of == original.id
        first, second = officer(app, provider), officer(app, provider)
        assert "recover the verified account" in first.get(f"/admin/proofing/{case.id}").text
        assert decide(first, case.id, "approve").status_code == 303
        with provider.sessions.begin() as session:  # nothing moves before the second officer
            assert session.get(Citizen, fresh.id) is not None
        assert decide(second, case.id, "approve").status_code == 303

    with provider.sessions.begin() as session:
        assert session.get(Citizen, fresh.id) is None  # the empty new account is gone
        recovered = session.get(Citizen, original.id)
        assert recovered is not None
        assert recovered.phone_number == fresh.phone_number
        assert recovered.identity_level == "verified-remote"
        left = session.scalars(select(LoginSession).where(LoginSession.citizen_id == original.id))
        assert list(left) == []  # the lost devices are signed out
    assert latest_case(provider, original.id).status == APPROVED

    with other_browser(app) as device:
        returned = MadeCitizen(
            id=original.id, phone_number=fresh.phone_number, password=fresh.password
        )
        sign_in(device, returned)
        tokens = obtain_tokens(device, rp, returned)
        assert jwt_part(tokens["id_token"], 1)["sub"] == sub


def test_recovery_of_ones_own_account_is_refused(
    app: FastAPI, client: TestClient, provider: Provider
) -> None:
    staff = make_staff(provider, PROOFING_OFFICER)
    sign_in_as_staff(client, provider, staff)
    card = evidence()
    assert submit(client, card).status_code == 303
    case = latest_case(provider, staff.id)
    for browser in (officer(app, provider), officer(app, provider)):
        decide(browser, case.id, "approve")
    accomplice = make_citizen(provider)
    with other_browser(app) as other:
        sign_in(other, accomplice)
        assert submit(other, card, photo=PNG).status_code == 303
    claim = latest_case(provider, accomplice.id)
    assert claim.duplicate_of == staff.id
    assert decide(client, claim.id, "approve").status_code == 403  # about their own account
