"""The keys of SMS codes and messages, each derived from the master key for one purpose."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from idp.crypto.master import derive


@dataclass(frozen=True)
class SmsKeys:
    code: bytes  # HMAC-SHA256 of one-time codes
    outbox: bytes  # AES-256-GCM of queued messages (destination and text)
    lookup: bytes  # HMAC-SHA256 of numbers and addresses, for counting and for the log

    @classmethod
    def derive(cls, master: bytes) -> SmsKeys:
        return cls(
            code=derive(master, "sms-code"),
            outbox=derive(master, "sms-outbox"),
            lookup=derive(master, "sms-lookup"),
        )

    def code_hash(self, *, challenge_id: str, purpose: str, code: str) -> str:
        """Bound to the challenge and its purpose: the same digits mean nothing elsewhere."""
        message = f"{purpose}\x00{challenge_id}\x00{code}".encode()
        return hmac.new(self.code, message, hashlib.sha256).hexdigest()

    def lookup_key(self, kind: str, value: str) -> str:
        """A keyed hash: a plain hash of a phone number is reversed by trying them all."""
        return hmac.new(self.lookup, f"{kind}\x00{value}".encode(), hashlib.sha256).hexdigest()

    def seal(self, *, message_id: str, to: str, text: str) -> bytes:
        nonce = os.urandom(12)
        plain = json.dumps({"to": to, "text": text}, ensure_ascii=False).encode()
        return nonce + AESGCM(self.outbox).encrypt(nonce, plain, message_id.encode())

    def unseal(self, sealed: bytes, *, message_id: str) -> tuple[str, str]:
        """(destination, text); raises cryptography's InvalidTag when tampered with."""
        plain = AESGCM(self.outbox).decrypt(sealed[:12], sealed[12:], message_id.encode())
        data = json.loads(plain)
        return str(data["to"]), str(data["text"])
