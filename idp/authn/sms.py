"""One-time codes sent by SMS (NIST SP 800-63B §5.1.3.3): 6 digits from `secrets`, stored as
an HMAC bound to the challenge and its purpose, valid 5 minutes, dead after 5 wrong tries.

A challenge is the page that waits for the code. It is bound to the browser that started it
(an HttpOnly cookie whose hash the row keeps), so its id alone is worth nothing. When the
number may not receive a code (no account, or not verified) the challenge looks the same and
counts against the same limits, but nothing is sent and no code can match.
"""

from __future__ import annotations

import hmac
import re
import secrets
from datetime import timedelta
from typing import Any

from sqlalchemy import delete
from sqlalchemy.orm import Session

from idp.authn.models import SmsChallenge
from idp.crypto.digest import digest
from idp.db import utcnow
from idp.errors import IdpError, PageError
from idp.provider import Provider
from idp.sms import outbox, texts
from idp.sms.outbox import Origin

CODE_TTL = timedelta(minutes=5)
MAX_ATTEMPTS = 5
COOKIE = "idp_sms"
PURPOSES = frozenset({"signup", "login", "mfa", "recovery", "phone"})
DELIVERIES = frozenset({"code", "taken", "none"})  # a code; the "already registered" notice
CHALLENGE_ID = re.compile(r"[A-Za-z0-9_-]{43}")


class CodeRejected(IdpError):
    """The code does not open this challenge; `reason` is the message key shown."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def new_code() -> str:
    return f"{secrets.randbelow(10**6):06d}"


def _send(
    session: Session, provider: Provider, row: SmsChallenge, *, origin: Origin
) -> tuple[str, str]:
    """Queue what this challenge sends (limits first); return (code hash, message_id)."""
    code = new_code()
    host = texts.issuer_host(provider.settings.issuer)
    text: str | None = None
    if row.delivery == "code":
        text = texts.code_message(row.purpose, code=code, host=host)
    elif row.delivery == "taken":
        text = texts.notice_message("taken", host=host)
    message_id = outbox.queue(
        session,
        provider,
        to=row.phone_number,
        text=text,
        purpose=row.purpose,
        origin=origin,
        ttl=CODE_TTL,
    )
    keys = provider.sms_keys
    code_hash = (
        keys.code_hash(challenge_id=row.id, purpose=row.purpose, code=code)
        if row.delivery == "code"
        else secrets.token_hex(32)  # no code was sent: none can match
    )
    return code_hash, message_id


def start_challenge(
    session: Session,
    provider: Provider,
    *,
    purpose: str,
    browser_token: str,
    phone_number: str,
    delivery: str,
    origin: Origin,
    citizen_id: str | None = None,
    tx: str | None = None,
    payload: dict[str, Any] | None = None,
) -> SmsChallenge:
    """Send a code (or what stands for it) and keep the challenge. Raises SmsBlocked before
    anything is written."""
    if purpose not in PURPOSES or delivery not in DELIVERIES:
        raise ValueError(f"unknown purpose or delivery: {purpose} {delivery}")
    now = utcnow()
    row = SmsChallenge(
        id=secrets.token_urlsafe(32),
        purpose=purpose,
        browser_hash=digest(browser_token),
        phone_number=phone_number,
        citizen_id=citizen_id,
        delivery=delivery,
        tx=tx,
        client_id=origin.client_id,
        payload=payload,
        attempts=0,
        code_expires_at=now + CODE_TTL,
        created_at=now,
        expires_at=now + timedelta(seconds=provider.settings.login_ttl_seconds),
    )
    row.code_hash, row.message_id = _send(session, provider, row, origin=origin)
    session.add(row)
    return row


def resend(session: Session, provider: Provider, row: SmsChallenge, *, origin: Origin) -> None:
    """A new code replaces the old one (which dies) with a fresh count of tries."""
    code_hash, message_id = _send(session, provider, row, origin=origin)
    row.code_hash, row.message_id, row.attempts = code_hash, message_id, 0
    row.code_expires_at = utcnow() + CODE_TTL


def load_challenge(
    session: Session, challenge_id: str | None, *, browser_token: str | None, lock: bool = False
) -> SmsChallenge:
    """The live challenge of this browser, or an error page. `lock` holds the row until the
    transaction ends, so two submissions cannot both spend the last try."""
    row = (
        session.get(SmsChallenge, challenge_id, with_for_update=lock)
        if challenge_id and CHALLENGE_ID.fullmatch(challenge_id)
        else None
    )
    token_hash = digest(browser_token) if browser_token and len(browser_token) < 100 else ""
    if (
        row is None
        or row.expires_at <= utcnow()
        or not hmac.compare_digest(row.browser_hash.encode(), token_hash.encode())
    ):
        raise PageError("code_page_expired_title", "code_page_expired", status_code=400)
    return row


def check_code(provider: Provider, row: SmsChallenge, typed: str) -> None:
    """Spend the code if `typed` is it; raise CodeRejected otherwise (each wrong try counts;
    the fifth kills the code). The caller holds the row locked."""
    code = "".join(typed.split())
    if not (len(code) == 6 and code.isascii() and code.isdigit()):
        raise CodeRejected("code_format")
    if row.code_hash is None:
        raise CodeRejected("code_dead")
    if row.code_expires_at <= utcnow():
        raise CodeRejected("code_expired")
    expected = provider.sms_keys.code_hash(challenge_id=row.id, purpose=row.purpose, code=code)
    if hmac.compare_digest(expected.encode(), row.code_hash.encode()):
        row.code_hash = None  # single use
        return
    row.attempts += 1
    if row.attempts >= MAX_ATTEMPTS:
        row.code_hash = None
        raise CodeRejected("code_dead")
    raise CodeRejected("code_wrong")


def sweep(session: Session) -> None:
    session.execute(delete(SmsChallenge).where(SmsChallenge.expires_at < utcnow()))
