"""Citizen accounts: phone numbers, sign-up, sign-in."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

import phonenumbers
from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.accounts.models import Citizen
from idp.authn.password import PasswordHasher, password_problem
from idp.errors import AuthenticationFailed, IdpError


class InvalidAccountData(IdpError):
    """Sign-up data that cannot be accepted; `code` is a message key shown to the citizen."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


ZERO_WIDTH = frozenset("\u200b\u200c\u200d")  # Khmer text uses them between words and signs


def is_name_text(name: str) -> bool:
    """Printable characters, and the zero-width marks Khmer writing needs."""
    return all(ch.isprintable() or ch in ZERO_WIDTH for ch in name)


def normalize_phone(raw: str, *, region: str) -> str:
    """E.164 form of a typed number (spaces, dashes and a leading 0 are fine)."""
    if len(raw) > 32:
        raise InvalidAccountData("phone_invalid")
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidAccountData("phone_invalid") from exc
    if not phonenumbers.is_valid_number(number):
        raise InvalidAccountData("phone_invalid")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def find_by_phone(session: Session, phone_number: str) -> Citizen | None:
    return session.scalars(select(Citizen).where(Citizen.phone_number == phone_number)).first()


def require_valid_account_data(
    *,
    phone_number: str,
    password: str | None,
    email: str | None = None,
    names: tuple[str | None, ...] = (),
) -> None:
    """Raise InvalidAccountData for a weak password, a bad email or name (not a taken number:
    a sign-up page must not tell whether a number has an account). No password: an account
    with a passkey instead."""
    # the number as stored and as typed: +85512345678 and 012345678 both contain 12345678
    words = [phone_number.lstrip("+")]
    with contextlib.suppress(phonenumbers.NumberParseException):
        words.append(phonenumbers.national_significant_number(phonenumbers.parse(phone_number)))
    problem = (
        password_problem(password, context_words=tuple(words)) if password is not None else None
    )
    if problem:
        raise InvalidAccountData(problem)
    if email is not None and (
        "@" not in email or len(email) > 254 or any(c.isspace() for c in email)
    ):
        raise InvalidAccountData("email_invalid")
    for name in names:
        if name is not None and (len(name) > 100 or not is_name_text(name)):
            raise InvalidAccountData("name_invalid")


def create_citizen(
    session: Session,
    *,
    hasher: PasswordHasher,
    phone_number: str,
    password: str,
    email: str | None = None,
    given_name: str | None = None,
    family_name: str | None = None,
    given_name_km: str | None = None,
    family_name_km: str | None = None,
    locale: str = "km",
    phone_number_verified: bool = False,
    roles: list[str] | None = None,
) -> Citizen:
    """Create an account. Raises InvalidAccountData (already taken, weak password, ...)."""
    require_valid_account_data(
        phone_number=phone_number,
        password=password,
        email=email,
        names=(given_name, family_name, given_name_km, family_name_km),
    )
    if find_by_phone(session, phone_number) is not None:
        raise InvalidAccountData("phone_taken")
    return add_citizen(
        session,
        phone_number=phone_number,
        password_hash=hasher.hash(password),
        email=email,
        given_name=given_name,
        family_name=family_name,
        given_name_km=given_name_km,
        family_name_km=family_name_km,
        locale=locale,
        phone_number_verified=phone_number_verified,
        roles=roles,
    )


def add_citizen(
    session: Session,
    *,
    phone_number: str,
    password_hash: str | None,
    email: str | None = None,
    given_name: str | None = None,
    family_name: str | None = None,
    given_name_km: str | None = None,
    family_name_km: str | None = None,
    locale: str = "km",
    phone_number_verified: bool = False,
    roles: list[str] | None = None,
) -> Citizen:
    """Store an account whose data were checked and password hashed (sign-up holds both
    until the number is confirmed). Raises InvalidAccountData("phone_taken")."""
    if find_by_phone(session, phone_number) is not None:
        raise InvalidAccountData("phone_taken")
    citizen = Citizen(
        phone_number=phone_number,
        phone_number_verified=phone_number_verified,
        email=email or None,
        given_name=given_name or None,
        family_name=family_name or None,
        given_name_km=given_name_km or None,
        family_name_km=family_name_km or None,
        locale=locale,
        password_hash=password_hash,
        roles=roles or [],
    )
    session.add(citizen)
    session.flush()
    return citizen


def add_signed_up(
    session: Session, *, phone_number: str, held: Mapping[str, Any], password_hash: str | None
) -> Citizen:
    """The account a sign-up held until its code came back (`held`: the form's checked data),
    with the number verified. Raises InvalidAccountData("phone_taken")."""
    return add_citizen(
        session,
        phone_number=phone_number,
        password_hash=password_hash,
        email=held.get("email"),
        given_name=held.get("given_name"),
        family_name=held.get("family_name"),
        given_name_km=held.get("given_name_km"),
        family_name_km=held.get("family_name_km"),
        locale=str(held.get("locale") or "km"),
        phone_number_verified=True,
    )


def set_password(citizen: Citizen, *, hasher: PasswordHasher, password: str) -> None:
    """A new password under the same rules as at sign-up. Raises InvalidAccountData."""
    require_valid_account_data(phone_number=citizen.phone_number, password=password)
    citizen.password_hash = hasher.hash(password)


def authenticate_password(
    session: Session, *, hasher: PasswordHasher, phone_number: str | None, password: str
) -> Citizen:
    """The citizen whose password this is. Raises AuthenticationFailed, alike for every cause."""
    citizen = find_by_phone(session, phone_number) if phone_number else None
    ok, new_hash = hasher.verify(password, citizen.password_hash if citizen else None)
    if citizen is None or not ok:
        raise AuthenticationFailed("password")
    if new_hash:
        citizen.password_hash = new_hash
    return citizen
