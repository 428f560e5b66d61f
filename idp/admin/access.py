"""Who may act as staff. The one place that decides it: every staff page and API route
calls `require_staff` first, naming the roles that may use it."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from sqlalchemy.orm import Session

from idp.accounts.models import Citizen
from idp.authn import assurance
from idp.authn.models import LoginSession
from idp.errors import PageError
from idp.provider import Provider
from idp.web.signed_in import signed_in

ADMIN = "admin"  # manages roles, citizens' accounts and signing keys; reads the audit log
PROOFING_OFFICER = "proofing_officer"  # reviews identity evidence
AGENCY_APPROVER = "agency_approver"  # approves and suspends agencies and their clients
ROLES = (ADMIN, PROOFING_OFFICER, AGENCY_APPROVER)


@dataclass(frozen=True)
class Staff:
    citizen: Citizen
    login: LoginSession

    @property
    def id(self) -> str:
        return self.citizen.id


def require_staff(
    request: Request, session: Session, provider: Provider, *roles: str
) -> Staff | None:
    """The signed-in staff member holding one of `roles`, or None when nobody is signed in
    (the caller sends them to sign in); a 403 page for anyone else."""
    login = signed_in(request, session, provider)
    if login is None:
        return None
    citizen = session.get(Citizen, login.citizen_id)
    if citizen is None or not set(roles) & set(citizen.roles or []):
        raise PageError("forbidden_title", "not_staff", status_code=403)
    # staff act on other people's data: only a phishing-resistant sign-in (a passkey) will do
    strength = assurance.level(login.acr)
    if strength is None or strength.strength < assurance.PHISHING_RESISTANT:
        raise PageError("forbidden_title", "staff_needs_passkey", status_code=403)
    return Staff(citizen=citizen, login=login)
