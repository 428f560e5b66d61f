"""Sign-in sessions and failed-attempt records."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from idp.db import Base, Timestamp


class LoginSession(Base):
    """A browser's sign-in. The cookie holds a random token; only its hash is stored."""

    __tablename__ = "login_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    sid: Mapped[str] = mapped_column(String(43), unique=True)  # the ID token's `sid`
    citizen_id: Mapped[str] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"))
    auth_time: Mapped[Timestamp]
    amr: Mapped[list[str]] = mapped_column(JSON)
    acr: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[Timestamp]
    last_seen_at: Mapped[Timestamp]
    expires_at: Mapped[Timestamp] = mapped_column(index=True)  # absolute timeout


class AuthFailure(Base):
    """One counted event (a failed sign-in, or a passkey challenge handed out), per key (an
    account or an address), inside a sliding window."""

    __tablename__ = "auth_failures"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(100), index=True)
    at: Mapped[Timestamp] = mapped_column(index=True)


class SmsChallenge(Base):
    """One page asking for a code sent by SMS: bound to its purpose, to the browser (the hash
    of an HttpOnly cookie) and to its own random id, which the page carries."""

    __tablename__ = "sms_challenges"

    id: Mapped[str] = mapped_column(String(43), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(16))  # signup, login, mfa, recovery
    browser_hash: Mapped[str] = mapped_column(String(64))
    phone_number: Mapped[str] = mapped_column(String(20))  # E.164, as typed or the account's
    citizen_id: Mapped[str | None] = mapped_column(
        ForeignKey("citizens.id", ondelete="CASCADE")
    )  # None: sign-up, or no account that may receive codes (nothing is sent then)
    delivery: Mapped[str] = mapped_column(String(16))  # code, taken (a notice), none
    tx: Mapped[str | None] = mapped_column(String(64))  # the waiting authorization request
    client_id: Mapped[str | None] = mapped_column(String(64))
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # sign-up data, hashed password
    code_hash: Mapped[str | None] = mapped_column(String(64))  # None: used or dead
    attempts: Mapped[int] = mapped_column(default=0)
    code_expires_at: Mapped[Timestamp]
    message_id: Mapped[str | None] = mapped_column(String(32))  # the last message sent
    verified_at: Mapped[Timestamp | None]  # recovery: the code was right, a password may follow
    created_at: Mapped[Timestamp]
    expires_at: Mapped[Timestamp] = mapped_column(index=True)


class Passkey(Base):
    """A WebAuthn credential of one citizen (a credential id belongs to one citizen only)."""

    __tablename__ = "passkeys"

    id: Mapped[int] = mapped_column(primary_key=True)
    citizen_id: Mapped[str] = mapped_column(
        ForeignKey("citizens.id", ondelete="CASCADE"), index=True
    )
    credential_id: Mapped[bytes] = mapped_column(LargeBinary(1023), unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary(2048))  # COSE_Key
    # random, the same for all of a citizen's passkeys: the WebAuthn user.id and the user
    # handle a discoverable credential returns (never the phone number)
    user_handle: Mapped[str] = mapped_column(String(86), index=True)  # base64url
    name: Mapped[str] = mapped_column(String(64))
    sign_count: Mapped[int] = mapped_column(default=0)
    backup_eligible: Mapped[bool] = mapped_column(default=False)  # BE: may be synced
    backed_up: Mapped[bool] = mapped_column(default=False)  # BS: is synced now
    aaguid: Mapped[str] = mapped_column(String(36))
    created_at: Mapped[Timestamp]
    last_used_at: Mapped[Timestamp | None]


class PasskeyChallenge(Base):
    """A WebAuthn challenge: single use, 5 minutes, bound to the browser (the hash of an
    HttpOnly cookie) and to its purpose; for a second factor or sign-up it also holds who
    is signing in or the held sign-up data."""

    __tablename__ = "passkey_challenges"

    id: Mapped[str] = mapped_column(String(43), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(16))  # login, mfa, register, signup
    browser_hash: Mapped[str] = mapped_column(String(64))
    challenge: Mapped[str] = mapped_column(String(86))  # base64url of 32 random bytes
    citizen_id: Mapped[str | None] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"))
    tx: Mapped[str | None] = mapped_column(String(64))  # the waiting authorization request
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[Timestamp]
    expires_at: Mapped[Timestamp] = mapped_column(index=True)


class PasskeyAfterPassword(Base):
    """A citizen's choice: one of their passkeys after the password at every sign-in."""

    __tablename__ = "passkey_after_password"

    citizen_id: Mapped[str] = mapped_column(
        ForeignKey("citizens.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[Timestamp]
