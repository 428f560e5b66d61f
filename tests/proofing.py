"""Proofing steps as citizens and officers click them, and test evidence."""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import FastAPI
from sqlalchemy import select
from starlette.testclient import TestClient

from idp.admin.access import PROOFING_OFFICER
from idp.proofing.models import ProofingCase
from idp.provider import Provider
from tests.factories import make_staff
from tests.flows import csrf_token, sign_in_as_staff

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + secrets.token_bytes(200)
JPEG = b"\xff\xd8\xff\xe0" + secrets.token_bytes(200)


def national_id() -> str:
    """A 9-digit national ID number not used before in this run (the app lives on)."""
    return str(secrets.randbelow(900_000_000) + 100_000_000)


def evidence(**changes: str) -> dict[str, str]:
    fields = {
        "national_id": national_id(),
        "given_name": "Dara",
        "family_name": "Sok",
        "given_name_km": "ដារា",
        "family_name_km": "សុខ",
        "birthdate": "1990-04-17",
        "sex": "female",
        "province": "Phnom Penh",
        "district": "Chamkar Mon",
        "commune": "Tonle Bassac",
        "street": "Street 1, house 2",
    }
    fields.update(changes)
    return fields


def submit(
    browser: TestClient, fields: dict[str, str], photo: bytes | None = PNG, name: str = "card.png"
) -> Any:
    """The citizen's identity form, sent as a browser sends it (multipart)."""
    page = browser.get("/account")
    assert page.status_code == 200, page.text
    files = {"photo": (name, photo, "image/png")} if photo is not None else None
    return browser.post(
        "/account/identity", data={**fields, "csrf_token": csrf_token(page.text)}, files=files
    )


def officer(app: FastAPI, provider: Provider) -> TestClient:
    """A browser of its own, signed in as a new proofing officer."""
    browser = TestClient(app, base_url="http://localhost", follow_redirects=False)
    browser.headers["Accept-Language"] = "en"
    sign_in_as_staff(browser, provider, make_staff(provider, PROOFING_OFFICER))
    return browser


def decide(browser: TestClient, case_id: str, decision: str, reason: str = "") -> Any:
    token = csrf_token(browser.get("/account").text)
    data = {"csrf_token": token, **({"reason": reason} if reason else {})}
    return browser.post(f"/admin/proofing/{case_id}/{decision}", data=data)


def latest_case(provider: Provider, citizen_id: str) -> ProofingCase:
    with provider.sessions.begin() as session:
        case = session.scalars(
            select(ProofingCase)
            .where(ProofingCase.citizen_id == citizen_id)
            .order_by(ProofingCase.created_at.desc())
        ).first()
        assert case is not None
        session.expunge(case)
        return case
