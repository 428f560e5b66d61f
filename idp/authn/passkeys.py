"""Passkeys kept by the provider: WebAuthn challenges (single use, 5 minutes, bound to the
browser and to a purpose), the citizens' credentials and their choice of a passkey after the
password. The WebAuthn checks themselves are in webauthn.py."""

from __future__ import annotations

import hmac
import re
import secrets
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from idp.audit import service as audit
from idp.authn import webauthn
from idp.authn.models import Passkey, PasskeyAfterPassword, PasskeyChallenge
from idp.authn.webauthn import CHALLENGE_TTL, PasskeyRejected
from idp.crypto.digest import digest
from idp.db import utcnow
from idp.settings import Settings

COOKIE = "idp_passkey"
PURPOSES = frozenset({"login", "mfa", "register", "signup"})
CHALLENGE_ID = re.compile(r"[A-Za-z0-9_-]{43}")


# --- challenges -------------------------------------------------------------------------


def start_challenge(
    session: Session,
    *,
    purpose: str,
    browser_token: str,
    citizen_id: str | None = None,
    tx: str | None = None,
    payload: dict[str, Any] | None = None,
) -> PasskeyChallenge:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown purpose: {purpose}")
    now = utcnow()
    row = PasskeyChallenge(
        id=secrets.token_urlsafe(32),
        purpose=purpose,
        browser_hash=digest(browser_token),
        challenge=webauthn.b64url(webauthn.new_challenge()),
        citizen_id=citizen_id,
        tx=tx,
        payload=payload,
        created_at=now,
        expires_at=now + CHALLENGE_TTL,
    )
    session.add(row)
    session.flush()
    return row


def load_challenge(
    session: Session,
    challenge_id: str | None,
    *,
    browser_token: str | None,
    purpose: str,
    lock: bool = False,
) -> PasskeyChallenge:
    """The live challenge of this browser for `purpose`; PasskeyRejected("passkey_expired")
    otherwise (unknown, spent, expired, another browser's). `lock` holds the row so that two
    answers cannot both spend it."""
    row = (
        session.get(PasskeyChallenge, challenge_id, with_for_update=lock)
        if challenge_id and CHALLENGE_ID.fullmatch(challenge_id)
        else None
    )
    token_hash = digest(browser_token) if browser_token and len(browser_token) < 100 else ""
    if (
        row is None
        or row.purpose != purpose
        or row.expires_at <= utcnow()
        or not hmac.compare_digest(row.browser_hash.encode(), token_hash.encode())
    ):
        raise PasskeyRejected("passkey_expired")
    return row


def spend(session: Session, row: PasskeyChallenge) -> bytes:
    """The challenge's value, which no later answer can use: the row is deleted."""
    value = webauthn.b64url_decode(row.challenge)
    session.delete(row)
    session.flush()
    return value


def sweep(session: Session) -> None:
    session.execute(delete(PasskeyChallenge).where(PasskeyChallenge.expires_at < utcnow()))


def find_passkey(session: Session, credential_id: bytes) -> Passkey | None:
    return session.scalars(select(Passkey).where(Passkey.credential_id == credential_id)).first()


def passkeys_of(session: Session, citizen_id: str) -> list[Passkey]:
    query = select(Passkey).where(Passkey.citizen_id == citizen_id).order_by(Passkey.id)
    return list(session.scalars(query))


def user_handle_for(session: Session, citizen_id: str) -> str:
    """The citizen's user handle: the one their passkeys share, or a new random one."""
    existing = passkeys_of(session, citizen_id)
    return existing[0].user_handle if existing else webauthn.new_user_handle()


def verify_sign_in(
    session: Session,
    settings: Settings,
    credential_json: str | None,
    *,
    challenge: bytes,
    citizen_id: str | None = None,
) -> Passkey:
    """Check an assertion (§7.2) against the stored passkey it names, which must be
    `citizen_id`'s when given, and record its use. A signature counter that did not grow is
    refused and recorded (§6.1.1: a sign of a cloned authenticator). Raises PasskeyRejected."""
    assertion = webauthn.read_assertion(credential_json)
    passkey = find_passkey(session, assertion.credential_id)
    if (
        passkey is None
        or (citizen_id is not None and passkey.citizen_id != citizen_id)
        or (assertion.user_handle not in (None, passkey.user_handle))
    ):
        raise PasskeyRejected("passkey_unknown")
    presented, backed_up = webauthn.verify_assertion(
        settings, assertion, public_key=passkey.public_key, challenge=challenge
    )
    stored = passkey.sign_count
    if (stored or presented) and presented <= stored:
        audit.record(
            session,
            "passkey.sign_count_regressed",
            actor="citizen",
            citizen_id=passkey.citizen_id,
            passkey_id=passkey.id,
            stored=stored,
            presented=presented,
        )
        raise PasskeyRejected("passkey_failed")
    passkey.sign_count = presented
    passkey.backed_up = backed_up
    passkey.last_used_at = utcnow()
    return passkey


def add_passkey(
    session: Session, *, citizen_id: str, user_handle: str, name: str, new: webauthn.NewPasskey
) -> Passkey:
    """Store a verified credential. Raises PasskeyRejected("passkey_taken") when its id is
    already registered (to this citizen or to anyone else)."""
    if find_passkey(session, new.credential_id) is not None:
        raise PasskeyRejected("passkey_taken")
    passkey = Passkey(
        citizen_id=citizen_id,
        credential_id=new.credential_id,
        public_key=new.public_key,
        user_handle=user_handle,
        name=name,
        sign_count=new.sign_count,
        backup_eligible=new.backup_eligible,
        backed_up=new.backed_up,
        aaguid=new.aaguid,
        created_at=utcnow(),
        last_used_at=None,
    )
    session.add(passkey)
    session.flush()
    audit.record(
        session, "passkey.added", actor="citizen", citizen_id=citizen_id, passkey_id=passkey.id
    )
    return passkey


def asks_after_password(session: Session, citizen_id: str) -> bool:
    """Whether the citizen chose a passkey after the password at every sign-in."""
    return session.get(PasskeyAfterPassword, citizen_id) is not None


def set_after_password(session: Session, citizen_id: str, *, on: bool) -> bool:
    """Record the citizen's choice; whether it changed."""
    row = session.get(PasskeyAfterPassword, citizen_id)
    if on and row is None:
        session.add(PasskeyAfterPassword(citizen_id=citizen_id, created_at=utcnow()))
    elif not on and row is not None:
        session.delete(row)
    else:
        return False
    return True
