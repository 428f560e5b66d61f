"""Proofing cases: submitting evidence, the officers' decisions with dual control, raising
a citizen's identity level, and recovery of an account by re-proofing (docs/proofing.md)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from idp.accounts.models import Citizen
from idp.audit import service as audit
from idp.authn import assurance
from idp.authn.models import LoginSession, Passkey
from idp.db import utcnow
from idp.oidc.claims import TRUST_FRAMEWORK
from idp.proofing.evidence import Evidence, InvalidEvidence
from idp.proofing.keys import ProofingKeys
from idp.proofing.models import (
    APPROVED,
    AWAITING_SECOND,
    IN_PERSON,
    OPEN,
    REJECTED,
    REMOTE,
    SUBMITTED,
    ProofingCase,
)

# evidence methods (OIDC4IDA predefined values): physical in-person proofing, and an
# officer checking a photo of the document sent from afar
METHOD = {IN_PERSON: "pipp", REMOTE: "uripp"}
CASE_ID = re.compile(r"[0-9a-f]{32}")
LEVEL_OF_CHANNEL = {REMOTE: "verified-remote", IN_PERSON: "verified-in-person"}


@dataclass(frozen=True)
class Policy:
    """How decisions are made: approvals that reach `dual_control_from` (and every
    recovery) need two different officers; `organization` names the verifier."""

    dual_control_from: str
    organization: str


def submit_case(
    session: Session,
    keys: ProofingKeys,
    *,
    citizen: Citizen,
    evidence: Evidence,
    channel: str = REMOTE,
    photo: bytes | None = None,
    photo_type: str | None = None,
    opened_by: str | None = None,
) -> ProofingCase:
    """A new case, sealed. Another account already verified with the same national ID
    number is named in `duplicate_of` (for the officers; never merged silently).
    Raises InvalidEvidence("case_open") while the citizen has an undecided case."""
    if session.scalar(
        select(ProofingCase.id).where(
            ProofingCase.citizen_id == citizen.id, ProofingCase.status.in_(OPEN)
        )
    ):
        raise InvalidEvidence("case_open")
    index = keys.blind_index(evidence.national_id)
    holder = verified_holder(session, index)
    case = ProofingCase(
        citizen_id=citizen.id,
        channel=channel,
        status=SUBMITTED,
        national_id_index=index,
        national_id_sealed=b"",
        given_name=evidence.given_name,
        family_name=evidence.family_name,
        given_name_km=evidence.given_name_km,
        family_name_km=evidence.family_name_km,
        birthdate=evidence.birthdate,
        sex=evidence.sex,
        address=evidence.address,
        photo_type=photo_type,
        duplicate_of=holder if holder != citizen.id else None,
        opened_by=opened_by,
    )
    session.add(case)
    session.flush()  # the id binds the sealed values to this case
    case.national_id_sealed = keys.seal(evidence.national_id.encode(), case_id=case.id, kind="nid")
    if photo is not None:
        case.photo_sealed = keys.seal(photo, case_id=case.id, kind="photo")
    audit.record(
        session,
        "proofing.submitted",
        actor="staff" if opened_by else "citizen",
        citizen_id=citizen.id,
        case_id=case.id,
        channel=channel,
        staff_id=opened_by,
        duplicate=case.duplicate_of is not None,
    )
    if case.duplicate_of:
        audit.record(
            session,
            "proofing.duplicate_flagged",
            actor="system",
            citizen_id=citizen.id,
            case_id=case.id,
            holder_id=case.duplicate_of,
        )
    return case


def verified_holder(session: Session, national_id_index: str) -> str | None:
    """The id of the account already verified with this national ID number, or None."""
    return session.scalar(select(Citizen.id).where(Citizen.national_id_index == national_id_index))


def national_id(keys: ProofingKeys, case: ProofingCase) -> str:
    return keys.unseal(case.national_id_sealed, case_id=case.id, kind="nid").decode()


def photo(keys: ProofingKeys, case: ProofingCase) -> bytes | None:
    if case.photo_sealed is None:
        return None
    return keys.unseal(case.photo_sealed, case_id=case.id, kind="photo")


def record_staff_event(session: Session, case: ProofingCase, event: str, *, staff_id: str) -> None:
    """Audit an officer's step on a case: reading its personal data
    (`proofing.evidence_viewed`, `proofing.photo_viewed`), a first approval, a rejection."""
    audit.record(
        session,
        event,
        actor="staff",
        citizen_id=case.citizen_id,
        case_id=case.id,
        staff_id=staff_id,
    )


def needs_two(case: ProofingCase, policy: Policy) -> bool:
    target = assurance.identity_index(LEVEL_OF_CHANNEL[case.channel])
    return case.duplicate_of is not None or target >= assurance.identity_index(
        policy.dual_control_from
    )


def require_decidable(case: ProofingCase, staff_id: str) -> None:
    """Object-level rules: an open case, about somebody else's account."""
    if case.status not in OPEN:
        raise InvalidEvidence("case_not_open")
    if staff_id in (case.citizen_id, case.duplicate_of):
        raise InvalidEvidence("own_case")


def case_for_officer(session: Session, case_id: str, *, staff_id: str) -> ProofingCase | None:
    """The case, or None. Raises InvalidEvidence("own_case") for a case about the officer's
    own account, or about the account it would recover."""
    case = case_by_id(session, case_id)
    if case is not None and staff_id in (case.citizen_id, case.duplicate_of):
        raise InvalidEvidence("own_case")
    return case


def decide(
    session: Session,
    case: ProofingCase,
    decision: str,
    *,
    staff_id: str,
    policy: Policy,
    reason: str = "",
) -> str:
    """Approve (see `approve`) or reject with `reason`: the case's new status. Raises
    InvalidEvidence."""
    if decision == "approve":
        return approve(session, case, staff_id=staff_id, policy=policy)
    reject(session, case, staff_id=staff_id, reason=reason)
    return REJECTED


def approve(session: Session, case: ProofingCase, *, staff_id: str, policy: Policy) -> str:
    """One officer's approval: the case's new status. With dual control the first approval
    waits for a second, different officer. Raises InvalidEvidence."""
    require_decidable(case, staff_id)
    if case.status == AWAITING_SECOND and staff_id == case.first_approver:
        raise InvalidEvidence("second_officer")
    if case.duplicate_of is not None and session.get(Citizen, case.duplicate_of) is None:
        case.duplicate_of = None  # the other account was deleted meanwhile
    if case.status == SUBMITTED and needs_two(case, policy):
        case.status, case.first_approver, case.first_approved_at = (
            AWAITING_SECOND,
            staff_id,
            utcnow(),
        )
        record_staff_event(session, case, "proofing.first_approval", staff_id=staff_id)
        return AWAITING_SECOND
    if case.duplicate_of is not None:
        recover(session, case, staff_id=staff_id, policy=policy)
    else:
        verify(session, case, staff_id=staff_id, policy=policy)
    return APPROVED


def reject(session: Session, case: ProofingCase, *, staff_id: str, reason: str) -> None:
    """Close the case with the reason the citizen reads. Raises InvalidEvidence."""
    require_decidable(case, staff_id)
    reason = reason.strip()
    control = any(unicodedata.category(c) == "Cc" and c not in "\r\n\t" for c in reason)
    if control or not 1 <= len(reason) <= 500:
        raise InvalidEvidence("reason_required")
    case.status, case.decision, case.reason = REJECTED, "rejected", reason
    case.decided_by, case.decided_at = staff_id, utcnow()
    record_staff_event(session, case, "proofing.rejected", staff_id=staff_id)


def _close(case: ProofingCase, *, staff_id: str, decision: str) -> None:
    case.status, case.decision = APPROVED, decision
    case.decided_by, case.decided_at = staff_id, utcnow()


def _raise_identity(
    session: Session, citizen: Citizen, case: ProofingCase, *, policy: Policy
) -> None:
    """The verified evidence becomes the account's identity: names, address, level, the
    blind index, and what `verified_claims` tells agencies."""
    level = LEVEL_OF_CHANNEL[case.channel]
    current = assurance.identity_index(citizen.identity_level)
    if assurance.identity_index(level) < current:
        level = citizen.identity_level  # a remote check never lowers an in-person one
    citizen.given_name, citizen.family_name = case.given_name, case.family_name
    citizen.given_name_km, citizen.family_name_km = case.given_name_km, case.family_name_km
    citizen.address = {
        "region": case.address.get("province"),
        "locality": case.address.get("district"),
        "street_address": ", ".join(
            p for p in (case.address.get("street"), case.address.get("commune")) if p
        ),
        "country": "KH",
    }
    citizen.identity_level = level
    citizen.national_id_index = case.national_id_index
    at = (case.decided_at or utcnow()).isoformat().replace("+00:00", "Z")
    citizen.verification = {
        "trust_framework": TRUST_FRAMEWORK,
        "assurance_level": level,
        "time": at,
        "txn": case.id,
        "method": METHOD[case.channel],
        "organization": policy.organization,
        "claims": {
            "given_name": case.given_name,
            "family_name": case.family_name,
            "given_name#km": case.given_name_km,
            "family_name#km": case.family_name_km,
            "birthdate": case.birthdate,
            "gender": case.sex,
            "address": citizen.address,
        },
    }
    set_session_identity(session, citizen)


def set_session_identity(session: Session, citizen: Citizen) -> None:
    """Live sessions carry the new identity level at once: the next authorization (and its
    ID token) states it without signing in again; tokens already issued keep theirs."""
    identity = assurance.identity_index(citizen.identity_level)
    for login in session.scalars(select(LoginSession).where(LoginSession.citizen_id == citizen.id)):
        login.acr = assurance.with_identity(login.acr, identity)


def verify(session: Session, case: ProofingCase, *, staff_id: str, policy: Policy) -> None:
    citizen = session.get(Citizen, case.citizen_id)
    if citizen is None:  # the case is deleted with its account: only a race gets here
        raise InvalidEvidence("case_not_open")
    holder = verified_holder(session, case.national_id_index)
    if holder not in (None, citizen.id):
        # verified meanwhile: a recovery now, which both officers must approve afresh
        case.duplicate_of, case.status = holder, SUBMITTED
        case.first_approver, case.first_approved_at = None, None
        raise InvalidEvidence("duplicate_nid")
    _close(case, staff_id=staff_id, decision="verified")
    _raise_identity(session, citizen, case, policy=policy)
    audit.record(
        session,
        "proofing.approved",
        actor="staff",
        citizen_id=citizen.id,
        case_id=case.id,
        staff_id=staff_id,
        first_approver=case.first_approver,
        identity_level=citizen.identity_level,
    )


def recover(session: Session, case: ProofingCase, *, staff_id: str, policy: Policy) -> None:
    """The applicant proved to be the holder of the verified account: the holder's account
    takes the applicant's new phone number and password, every old factor and session
    ends, and the applicant's new, empty account is deleted. The holder's id, and so every
    agency's `sub`, stays the same."""
    holder = session.get(Citizen, case.duplicate_of)
    applicant = session.get(Citizen, case.citizen_id)
    if holder is None or applicant is None:
        raise InvalidEvidence("case_not_open")
    phone, verified, password_hash = (
        applicant.phone_number,
        applicant.phone_number_verified,
        applicant.password_hash,
    )
    case.citizen_id = holder.id  # the case would be deleted with the applicant's account
    session.flush()
    session.delete(applicant)
    session.flush()  # frees the phone number (unique) before the holder takes it
    holder.phone_number, holder.phone_number_verified = phone, verified
    holder.password_hash, holder.sms_second_factor, holder.locked_at = password_hash, False, None
    session.execute(delete(Passkey).where(Passkey.citizen_id == holder.id))
    session.execute(delete(LoginSession).where(LoginSession.citizen_id == holder.id))
    _close(case, staff_id=staff_id, decision="recovered")
    _raise_identity(session, holder, case, policy=policy)
    audit.record(
        session,
        "proofing.recovered",
        actor="staff",
        citizen_id=holder.id,
        case_id=case.id,
        staff_id=staff_id,
        first_approver=case.first_approver,
        removed_account=applicant.id,
    )


def open_cases(session: Session) -> Sequence[ProofingCase]:
    """The officers' queue, oldest first."""
    return session.scalars(
        select(ProofingCase).where(ProofingCase.status.in_(OPEN)).order_by(ProofingCase.created_at)
    ).all()


def cases_of(session: Session, citizen_id: str) -> Sequence[ProofingCase]:
    return session.scalars(
        select(ProofingCase)
        .where(ProofingCase.citizen_id == citizen_id)
        .order_by(ProofingCase.created_at.desc())
    ).all()


def case_by_id(session: Session, case_id: str) -> ProofingCase | None:
    # only ids of our shape reach the database (PostgreSQL refuses NUL in text)
    return session.get(ProofingCase, case_id) if CASE_ID.fullmatch(case_id) else None
