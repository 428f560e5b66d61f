"""Passwords: argon2id through passlib (libpass), NIST SP 800-63B §3.1.1.2 rules."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

from passlib.context import CryptContext

MIN_LENGTH = 8
MAX_LENGTH = 128  # SP 800-63B: accept at least 64


def _hashing_slots() -> threading.BoundedSemaphore:
    """One argon2 computation at a time per usable core: each needs its memory cost in RAM
    and cache, and 40 threads interleaving on one core hashed a third slower than one."""
    usable = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else ()
    return threading.BoundedSemaphore(len(usable) or os.cpu_count() or 1)


@cache
def _blocklist() -> frozenset[str]:
    text = resources.files("idp").joinpath("data/common-passwords.txt").read_text("utf-8")
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip())


def password_problem(password: str, *, context_words: tuple[str, ...] = ()) -> str | None:
    """Why a new password is refused, as a message key, or None when it is acceptable.

    No composition rules (SP 800-63B): length, a blocklist of common passwords, and
    words from the citizen's own account.
    """
    if len(password) < MIN_LENGTH:
        return "password_too_short"
    if len(password) > MAX_LENGTH:
        return "password_too_long"
    lowered = password.lower()
    if lowered in _blocklist() or len(set(lowered)) < 3:
        return "password_too_common"
    if any(word and word.lower() in lowered for word in context_words if len(word) >= 4):
        return "password_contains_account_info"
    return None


@dataclass(frozen=True)
class PasswordHasher:
    """argon2id with parameters from settings; `verify` re-hashes when they were raised."""

    context: CryptContext
    slots: threading.BoundedSemaphore = field(default_factory=_hashing_slots, compare=False)

    @classmethod
    def argon2(cls, *, memory_kib: int, time_cost: int, parallelism: int) -> PasswordHasher:
        context = CryptContext(
            schemes=["argon2"],
            argon2__type="ID",
            argon2__memory_cost=memory_kib,
            argon2__rounds=time_cost,
            argon2__parallelism=parallelism,
        )
        return cls(context=context)

    def hash(self, password: str) -> str:
        with self.slots:
            return str(self.context.hash(password))

    def verify(self, password: str, stored: str | None) -> tuple[bool, str | None]:
        """(matches, new hash or None). Unknown accounts cost the same as wrong passwords."""
        with self.slots:  # the dummy path waits alike: timing tells nothing more
            if stored is None or len(password) > MAX_LENGTH:
                self.context.dummy_verify()
                return False, None
            ok, new_hash = self.context.verify_and_update(password, stored)
        return bool(ok), new_hash
