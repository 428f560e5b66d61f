"""Passwords: idp/authn/password.py (NIST SP 800-63B rules, argon2id) and their use in
idp/accounts/service.py."""

from __future__ import annotations

import re
import time

import pytest
from pydantic import ValidationError
from sqlalchemy.orm import Session

from idp.accounts import service as accounts
from idp.accounts.service import InvalidAccountData
from idp.authn.password import PasswordHasher, password_problem
from idp.errors import AuthenticationFailed
from idp.provider import Provider
from idp.settings import Settings
from tests.factories import unique_phone

ARGON2 = re.compile(r"^\$argon2(?P<type>id|i|d)\$v=19\$m=(?P<m>\d+),t=(?P<t>\d+),p=(?P<p>\d+)\$")


def argon2_parameters(stored: str) -> dict[str, str]:
    match = ARGON2.match(stored)
    assert match, stored
    return match.groupdict()


@pytest.fixture(scope="module")
def weak_hasher() -> PasswordHasher:
    """Parameters below today's: the kind of hash an older release may have stored."""
    return PasswordHasher.argon2(memory_kib=8192, time_cost=1, parallelism=1)


# Rules for new passwords


@pytest.mark.parametrize(
    "password",
    [
        "kq7#mv2p",  # exactly 8
        "correct horse battery staple",  # no composition rules
        "alllowercaseletters",
        "ខ្ញុំស្រឡាញ់ភ្នំពេញ",  # Khmer script
        "x" * 63 + "yz",  # 65: more than the 64 SP 800-63B asks to allow
        ("abc" * 43)[:128],  # 128
    ],
)
def test_acceptable_passwords(password: str) -> None:
    assert password_problem(password) is None


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("", "password_too_short"),
        ("kq7#mv2", "password_too_short"),
        ("ab" * 64 + "c", "password_too_long"),
        ("password", "password_too_common"),
        ("PASSWORD", "password_too_common"),
        ("12345678", "password_too_common"),
        ("qwerty123", "password_too_common"),
        ("aaaaaaaaaaaa", "password_too_common"),
        ("abababababab", "password_too_common"),
    ],
)
def test_refused_passwords(password: str, problem: str) -> None:
    assert password_problem(password) == problem


def test_words_from_the_account_are_refused() -> None:
    assert (
        password_problem("my Kampot farm 2024", context_words=("kampot",))
        == "password_contains_account_info"
    )
    assert password_problem("my Kampot farm 2024", context_words=("kep",)) is None


@pytest.mark.parametrize(
    "password",
    [
        "phone 85512345678 ok",  # international digits
        "my 012345678 secret",  # as the citizen types it
        "my 12 345 678 secret".replace(" ", ""),
    ],
)
def test_phone_number_inside_the_password_is_refused(
    session: Session, provider: Provider, password: str
) -> None:
    with pytest.raises(InvalidAccountData) as refused:
        accounts.create_citizen(
            session, hasher=provider.hasher, phone_number="+85512345678", password=password
        )
    assert refused.value.code == "password_contains_account_info"


# Hashing


def test_stored_hash_is_argon2id_with_at_least_owasp_parameters(
    session: Session, provider: Provider
) -> None:
    citizen = accounts.create_citizen(
        session, hasher=provider.hasher, phone_number=unique_phone(), password="rice fields at dawn"
    )
    assert citizen.password_hash is not None
    assert "rice" not in citizen.password_hash
    params = argon2_parameters(citizen.password_hash)
    assert params["type"] == "id"
    assert int(params["m"]) >= 19456
    assert int(params["t"]) >= 2
    assert int(params["p"]) >= 1


def test_same_password_hashes_differently(provider: Provider) -> None:
    assert provider.hasher.hash("rice fields at dawn") != provider.hasher.hash(
        "rice fields at dawn"
    )


@pytest.mark.parametrize(
    "change",
    [{"argon2_memory_kib": 8192}, {"argon2_time_cost": 1}, {"argon2_parallelism": 0}],
)
def test_settings_refuse_weaker_parameters(change: dict[str, int]) -> None:
    with pytest.raises(ValidationError):
        Settings(**change)  # type: ignore[arg-type]


def test_verify(provider: Provider) -> None:
    stored = provider.hasher.hash("rice fields at dawn")
    assert provider.hasher.verify("rice fields at dawn", stored) == (True, None)
    assert provider.hasher.verify("rice fields at dusk", stored) == (False, None)
    assert provider.hasher.verify("x" * 129, stored) == (False, None)


def test_verify_upgrades_a_weaker_hash(provider: Provider, weak_hasher: PasswordHasher) -> None:
    old = weak_hasher.hash("rice fields at dawn")
    assert argon2_parameters(old)["m"] == "8192"
    ok, new = provider.hasher.verify("rice fields at dawn", old)
    assert ok
    assert new is not None
    params = argon2_parameters(new)
    assert (params["type"], params["m"], params["t"], params["p"]) == ("id", "19456", "2", "1")
    assert provider.hasher.verify("rice fields at dawn", new) == (True, None)
    assert provider.hasher.verify("wrong password", old) == (False, None)


def test_sign_in_stores_the_upgraded_hash(
    session: Session, provider: Provider, weak_hasher: PasswordHasher
) -> None:
    phone = unique_phone()
    citizen = accounts.create_citizen(
        session, hasher=weak_hasher, phone_number=phone, password="rice fields at dawn"
    )
    old = citizen.password_hash
    signed_in = accounts.authenticate_password(
        session, hasher=provider.hasher, phone_number=phone, password="rice fields at dawn"
    )
    assert signed_in.id == citizen.id
    session.flush()
    session.expire_all()
    stored = accounts.find_by_phone(session, phone)
    assert stored is not None
    assert stored.password_hash != old
    assert argon2_parameters(stored.password_hash or "")["m"] == "19456"


def test_sign_in_failures_are_alike(session: Session, provider: Provider) -> None:
    phone = unique_phone()
    accounts.create_citizen(
        session, hasher=provider.hasher, phone_number=phone, password="rice fields at dawn"
    )
    for number, password in ((phone, "wrong password"), (unique_phone(), "rice fields at dawn")):
        with pytest.raises(AuthenticationFailed):
            accounts.authenticate_password(
                session, hasher=provider.hasher, phone_number=number, password=password
            )
    with pytest.raises(AuthenticationFailed):
        accounts.authenticate_password(
            session, hasher=provider.hasher, phone_number=None, password="rice fields at dawn"
        )


def test_unknown_account_costs_a_hash(provider: Provider) -> None:
    """No account, no shortcut: the dummy verification keeps timing from telling."""
    stored = provider.hasher.hash("rice fields at dawn")

    def fastest(stored_hash: str | None) -> float:
        best = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            provider.hasher.verify("rice fields at dusk", stored_hash)
            best = min(best, time.perf_counter() - started)
        return best

    assert fastest(None) > 0.3 * fastest(stored)
