"""What staff do to citizens' accounts and to the provider: finding accounts, locking and
unlocking them, ending sessions, granting roles, approving or suspending agencies and
clients, rotating signing keys. Each call records its audit event; the caller has checked
the staff member's role (idp/admin/access.py)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from idp.accounts import service as accounts
from idp.accounts.models import Citizen
from idp.accounts.service import InvalidAccountData
from idp.admin.access import ROLES
from idp.agencies import service as agencies
from idp.agencies.models import Agency, Client
from idp.audit import service as audit
from idp.authn import sessions
from idp.crypto import keys
from idp.db import utcnow
from idp.oidc.models import Grant
from idp.proofing.evidence import InvalidEvidence
from idp.proofing.keys import ProofingKeys
from idp.proofing.models import ProofingCase
from idp.settings import Settings

CITIZEN_ID = re.compile(r"[0-9a-f]{32}")
NATIONAL_ID = re.compile(r"[0-9]{9,12}")
SEARCH_LIMIT = 20


def find_citizens(
    session: Session, proofing_keys: ProofingKeys, query: str, *, region: str
) -> Sequence[Citizen]:
    """Accounts matching an account id, a national ID number (through its blind index), a
    phone number, or the start of a name in either script; at most SEARCH_LIMIT."""
    query = query.strip()
    if not query or len(query) > 100 or not query.isprintable():
        return []
    if CITIZEN_ID.fullmatch(query):
        found = session.get(Citizen, query)
        return [found] if found else []
    digits = re.sub(r"[\s-]", "", query)
    if NATIONAL_ID.fullmatch(digits) and not digits.startswith("0"):
        # the verified holder, and every account whose case names the number
        index = proofing_keys.blind_index(digits)
        claimed = select(ProofingCase.citizen_id).where(ProofingCase.national_id_index == index)
        return session.scalars(
            select(Citizen)
            .where(or_(Citizen.national_id_index == index, Citizen.id.in_(claimed)))
            .order_by(Citizen.national_id_index.is_(None), Citizen.id)
            .limit(SEARCH_LIMIT)
        ).all()
    try:
        phone = accounts.normalize_phone(query, region=region)
    except InvalidAccountData:
        phone = None
    if phone is not None:
        return session.scalars(select(Citizen).where(Citizen.phone_number == phone)).all()
    pattern = query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    names = (Citizen.given_name, Citizen.family_name, Citizen.given_name_km, Citizen.family_name_km)
    return session.scalars(
        select(Citizen)
        .where(or_(*(n.ilike(pattern, escape="\\") for n in names)))
        .order_by(Citizen.family_name, Citizen.given_name, Citizen.id)
        .limit(SEARCH_LIMIT)
    ).all()


def citizen_by_id(session: Session, citizen_id: str) -> Citizen | None:
    # only ids of our shape reach the database (PostgreSQL refuses NUL in text)
    return session.get(Citizen, citizen_id) if CITIZEN_ID.fullmatch(citizen_id) else None


def require_other(citizen: Citizen, staff_id: str) -> None:
    """Staff never act on their own account here (no self-unlock, no self-promotion)."""
    if citizen.id == staff_id:
        raise InvalidEvidence("own_case")


def lock(session: Session, citizen: Citizen, *, staff_id: str) -> None:
    """No sign-in until unlocked: sessions end and every grant (with its tokens) is revoked."""
    require_other(citizen, staff_id)
    if citizen.locked_at is None:
        citizen.locked_at = utcnow()
        sessions.end_all_sessions(session, citizen_id=citizen.id)
        session.execute(
            update(Grant)
            .where(Grant.citizen_id == citizen.id, Grant.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
        audit.record(
            session, "account.locked", actor="staff", citizen_id=citizen.id, staff_id=staff_id
        )


def unlock(session: Session, citizen: Citizen, *, staff_id: str) -> None:
    require_other(citizen, staff_id)
    if citizen.locked_at is not None:
        citizen.locked_at = None
        audit.record(
            session, "account.unlocked", actor="staff", citizen_id=citizen.id, staff_id=staff_id
        )


def end_sessions(session: Session, citizen: Citizen, *, staff_id: str) -> None:
    """Sign the citizen out everywhere (tokens already issued live on until they expire)."""
    sessions.end_all_sessions(session, citizen_id=citizen.id)
    audit.record(
        session, "account.sessions_ended", actor="staff", citizen_id=citizen.id, staff_id=staff_id
    )


def set_roles(session: Session, citizen: Citizen, roles: Sequence[str], *, staff_id: str) -> None:
    """Replace the citizen's staff roles. Raises InvalidEvidence for an unknown role or for
    the administrator's own account (another administrator changes those)."""
    require_other(citizen, staff_id)
    if not set(roles) <= set(ROLES):
        raise InvalidEvidence("role_invalid")
    before, after = sorted(citizen.roles or []), sorted(set(roles))
    if before != after:
        citizen.roles = after
        audit.record(
            session,
            "account.roles_changed",
            actor="staff",
            citizen_id=citizen.id,
            staff_id=staff_id,
            before=before,
            after=after,
        )


def rotate_signing_keys(
    session: Session, settings: Settings, kek: bytes, *, staff_id: str
) -> list[str]:
    """The rotation `idp keys rotate` makes: a retired key stays published while tokens it
    signed may still be checked, plus the time workers may keep signing from their cache."""
    longest = max(settings.id_token_ttl_seconds, settings.access_token_ttl_seconds)
    keep = timedelta(seconds=longest + settings.key_cache_seconds + 3600)
    signing = keys.rotate(session, kek, keep_published=keep)
    audit.record(session, "keys.rotated", actor="staff", staff_id=staff_id, signing_kids=signing)
    return signing


def set_status(session: Session, target: Agency | Client, status: str, *, staff_id: str) -> None:
    """Approve (active) or suspend an agency or a client; a change records its event."""
    if target.status == status:
        return
    if isinstance(target, Client):
        agencies.set_client_status(session, target, status)
        event, ids = "client.status_changed", {"client_id": target.client_id}
    else:
        agencies.set_agency_status(session, target, status)
        event, ids = "agency.status_changed", {"agency_id": target.id}
    audit.record(session, event, actor="staff", staff_id=staff_id, status=status, **ids)
