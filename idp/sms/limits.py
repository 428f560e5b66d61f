"""Abuse and cost limits, checked before anything is queued: destination (allowed calling
codes, mobile numbers only), resend cooldown, caps per number, per address, per client and a
global daily budget. Counted in SQL from the outbox, so every worker and host sees the same
counts; a PostgreSQL advisory lock per number makes its cooldown and caps exact under
concurrent requests (SQLite serialises writing transactions anyway)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import phonenumbers
from prometheus_client import Counter
from sqlalchemy import ColumnElement, func, select, text
from sqlalchemy.orm import Session

from idp.errors import IdpError
from idp.settings import Settings
from idp.sms.models import SmsMessage

log = logging.getLogger("idp.sms")

SMS_TOTAL = Counter(
    "idp_sms_total",
    "Text messages sent, failed for good and blocked, by reason",
    ["result", "reason"],
)

MOBILE_TYPES = frozenset(
    {phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE}
)

# what the citizen reads for each reason (message keys of idp/web/messages.py)
MESSAGE_FOR = {
    "country": "sms_country",
    "not_mobile": "sms_not_mobile",
    "cooldown": "sms_cooldown",
    "number_hour": "sms_number_limit",
    "number_day": "sms_number_limit",
    "ip": "sms_ip_limit",
    "client": "sms_unavailable",
    "budget": "sms_unavailable",
}


class SmsBlocked(IdpError):
    """A message was not queued; `reason` is for the log and metrics, `message` for the page."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.message = MESSAGE_FOR[reason]


@dataclass(frozen=True)
class Request:
    """Who asks for a message to whom: keyed hashes, never the number or address."""

    number: str  # E.164, checked for country and type only
    number_key: str
    ip_key: str | None
    client_id: str | None
    purpose: str


def destination_problem(number: str, *, allowed: frozenset[int]) -> str | None:
    """Why a number may not receive messages: "country" or "not_mobile"; None if it may."""
    try:
        parsed = phonenumbers.parse(number)
    except phonenumbers.NumberParseException:
        return "not_mobile"
    if parsed.country_code not in allowed:
        return "country"
    if phonenumbers.number_type(parsed) not in MOBILE_TYPES:
        return "not_mobile"
    return None


def _count(session: Session, *conditions: ColumnElement[bool]) -> int:
    return session.scalar(select(func.count()).select_from(SmsMessage).where(*conditions)) or 0


def _lock_number(session: Session, number_key: str) -> None:
    """Serialise requests for one number until this transaction ends (PostgreSQL)."""
    if session.get_bind().dialect.name == "postgresql":
        lock_id = int.from_bytes(bytes.fromhex(number_key[:16]), "big", signed=True)
        session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": lock_id})


def rate_problem(
    session: Session, settings: Settings, req: Request, *, now: datetime
) -> str | None:
    """The first limit this request would pass, or None. Messages that were not sent
    (no account) count too, so the answer is the same whether or not there is an account."""
    hour, day = now - timedelta(hours=1), now - timedelta(days=1)
    by_number = SmsMessage.number_key == req.number_key
    cooldown = now - timedelta(seconds=settings.sms_resend_cooldown_seconds)
    if _count(session, by_number, SmsMessage.created_at > cooldown):
        return "cooldown"
    if _count(session, by_number, SmsMessage.created_at > hour) >= (
        settings.sms_max_per_number_per_hour
    ):
        return "number_hour"
    if _count(session, by_number, SmsMessage.created_at > day) >= (
        settings.sms_max_per_number_per_day
    ):
        return "number_day"
    if (
        req.ip_key is not None
        and _count(session, SmsMessage.ip_key == req.ip_key, SmsMessage.created_at > hour)
        >= settings.sms_max_per_ip_per_hour
    ):
        return "ip"
    if (
        req.client_id is not None
        and _count(session, SmsMessage.client_id == req.client_id, SmsMessage.created_at > day)
        >= settings.sms_max_per_client_per_day
    ):
        return "client"
    return budget_problem(session, settings, now=now)


def budget_problem(session: Session, settings: Settings, *, now: datetime) -> str | None:
    sent = _count(
        session, SmsMessage.suppressed.is_(False), SmsMessage.created_at > now - timedelta(days=1)
    )
    return "budget" if sent >= settings.sms_max_per_day else None


def require_allowed(
    session: Session, settings: Settings, req: Request, *, now: datetime, notice: bool = False
) -> None:
    """Raise SmsBlocked, logged (a short keyed hash of the number) and counted, when the
    message may not be queued. A `notice` that follows a code already checked (password
    changed) answers only to the destination rules and the global budget."""
    _lock_number(session, req.number_key)
    reason = destination_problem(req.number, allowed=settings.sms_country_codes)
    if reason is None:
        reason = (
            budget_problem(session, settings, now=now)
            if notice
            else rate_problem(session, settings, req, now=now)
        )
    if reason is None:
        return
    SMS_TOTAL.labels(result="blocked", reason=reason).inc()
    log.warning(
        "sms blocked",
        extra={
            "reason": reason,
            "purpose": req.purpose,
            "number": req.number_key[:12],
            "client_id": req.client_id,
        },
    )
    raise SmsBlocked(reason)
