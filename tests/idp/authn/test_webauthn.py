"""idp/authn/webauthn.py on its own: challenges (purpose, browser, expiry, sweep), the RP ID
setting, and registration and sign-in checks with the software authenticator."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy.orm import Session

from idp.accounts import service as accounts
from idp.authn import passkeys, webauthn
from idp.authn.models import PasskeyChallenge
from idp.authn.webauthn import PasskeyRejected
from idp.db import utcnow
from idp.settings import Settings
from tests.factories import unique_phone
from tests.softauthn import SoftAuthenticator

SETTINGS = Settings(issuer="http://localhost", master_key="x" * 40)
BROWSER = "b" * 43


def registration(
    session: Session, authenticator: SoftAuthenticator, handle: str = ""
) -> tuple[bytes, dict[str, object]]:
    row = passkeys.start_challenge(session, purpose="register", browser_token=BROWSER)
    options = webauthn.registration_options(
        SETTINGS,
        row,
        user_handle=handle or webauthn.new_user_handle(),
        user_name="+85512345678",
        display_name="Dara",
        existing=[],
    )
    return passkeys.spend(session, row), authenticator.create(options)


def test_a_challenge_is_bound_to_purpose_and_browser(session: Session) -> None:
    row = passkeys.start_challenge(session, purpose="login", browser_token=BROWSER)
    assert passkeys.load_challenge(session, row.id, browser_token=BROWSER, purpose="login") is row
    for purpose, browser in (("register", BROWSER), ("login", "c" * 43), ("login", None)):
        with pytest.raises(PasskeyRejected):
            passkeys.load_challenge(session, row.id, browser_token=browser, purpose=purpose)
    for hostile in ("", "x" * 43, "../" * 20, None):
        with pytest.raises(PasskeyRejected):
            passkeys.load_challenge(session, hostile, browser_token=BROWSER, purpose="login")


def test_a_spent_challenge_is_gone(session: Session) -> None:
    row = passkeys.start_challenge(session, purpose="login", browser_token=BROWSER)
    value = passkeys.spend(session, row)
    assert len(value) == 32
    with pytest.raises(PasskeyRejected):
        passkeys.load_challenge(session, row.id, browser_token=BROWSER, purpose="login")


def test_the_sweep_deletes_expired_challenges(session: Session) -> None:
    old = passkeys.start_challenge(session, purpose="login", browser_token=BROWSER)
    live = passkeys.start_challenge(session, purpose="login", browser_token=BROWSER)
    old.expires_at = utcnow() - timedelta(seconds=1)
    session.flush()
    with pytest.raises(PasskeyRejected):
        passkeys.load_challenge(session, old.id, browser_token=BROWSER, purpose="login")
    passkeys.sweep(session)
    session.expire_all()
    assert session.get(PasskeyChallenge, old.id) is None
    assert session.get(PasskeyChallenge, live.id) is not None
    assert live.expires_at - live.created_at == timedelta(minutes=5)


def test_registration_reads_the_backup_flags(session: Session) -> None:
    authenticator = SoftAuthenticator(backup_eligible=True, backed_up=False)
    challenge, credential = registration(session, authenticator)
    new = webauthn.verify_registration(SETTINGS, json.dumps(credential), challenge=challenge)
    assert (new.backup_eligible, new.backed_up, new.sign_count) == (True, False, 0)
    assert new.credential_id in authenticator.credentials


def test_registration_needs_the_right_challenge(session: Session) -> None:
    _, credential = registration(session, SoftAuthenticator())
    with pytest.raises(PasskeyRejected):
        webauthn.verify_registration(SETTINGS, json.dumps(credential), challenge=b"0" * 32)


def test_sign_in_checks_the_owner(session: Session) -> None:
    citizen, other = (
        accounts.add_citizen(session, phone_number=unique_phone(), password_hash=None)
        for _ in range(2)
    )
    authenticator = SoftAuthenticator()
    handle = webauthn.new_user_handle()
    challenge, credential = registration(session, authenticator, handle)
    new = webauthn.verify_registration(SETTINGS, json.dumps(credential), challenge=challenge)
    passkeys.add_passkey(session, citizen_id=citizen.id, user_handle=handle, name="a", new=new)
    assert passkeys.user_handle_for(session, citizen.id) == handle
    assert passkeys.user_handle_for(session, other.id) != handle
    with pytest.raises(PasskeyRejected, match="passkey_taken"):
        passkeys.add_passkey(session, citizen_id=other.id, user_handle=handle, name="b", new=new)

    def assertion(row: PasskeyChallenge) -> str:
        options = webauthn.authentication_options(SETTINGS, row, allowed=[])
        return json.dumps(authenticator.get(options))

    row = passkeys.start_challenge(session, purpose="mfa", browser_token=BROWSER)
    answer = assertion(row)
    with pytest.raises(PasskeyRejected, match="passkey_unknown"):
        passkeys.verify_sign_in(
            session, SETTINGS, answer, challenge=passkeys.spend(session, row), citizen_id=other.id
        )
    row = passkeys.start_challenge(session, purpose="mfa", browser_token=BROWSER)
    answer = assertion(row)
    passkey = passkeys.verify_sign_in(
        session, SETTINGS, answer, challenge=passkeys.spend(session, row), citizen_id=citizen.id
    )
    assert passkey.sign_count == 2  # the refused answer above had used 1


def test_the_rp_id_must_be_the_issuers_host_or_a_parent() -> None:
    kwargs = {
        "issuer": "https://login.id.gov.kh",
        "master_key": "x" * 40,
        "sms_gateway": "http",
        "sms_http_url": "https://sms.example.com",
    }
    assert Settings(**kwargs).rp_id == "login.id.gov.kh"  # type: ignore[arg-type]
    assert Settings(**kwargs, webauthn_rp_id="id.gov.kh").rp_id == "id.gov.kh"  # type: ignore[arg-type]
    for wrong in ("example.com", "d.gov.kh", "other.login.id.gov.kh"):
        with pytest.raises(ValidationError):
            Settings(**kwargs, webauthn_rp_id=wrong)  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["a+b", "a/b", "ab==", "é"])
def test_base64url_is_strict(text: str) -> None:
    with pytest.raises(ValueError):
        webauthn.b64url_decode(text)
