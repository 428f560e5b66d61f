"""The keys of identity evidence, each derived from the master key for one purpose: the
national ID number and the document photo are sealed at rest (AES-256-GCM), and the number
is found again through a keyed blind index (HMAC-SHA256)."""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from idp.crypto.master import derive


@dataclass(frozen=True)
class ProofingKeys:
    evidence: bytes  # AES-256-GCM of national ID numbers and document photos
    index: bytes  # HMAC-SHA256 blind index of national ID numbers

    @classmethod
    def derive(cls, master: bytes) -> ProofingKeys:
        return cls(evidence=derive(master, "proofing-evidence"), index=derive(master, "nid-index"))

    def blind_index(self, national_id: str) -> str:
        """Equal numbers, equal index; without the key, a plain hash of the few million
        possible numbers would be reversed by trying them all."""
        return hmac.new(self.index, national_id.encode(), hashlib.sha256).hexdigest()

    def seal(self, plain: bytes, *, case_id: str, kind: str) -> bytes:
        """Bound to its case and field: a sealed value moved to another row does not open."""
        nonce = os.urandom(12)
        return nonce + AESGCM(self.evidence).encrypt(nonce, plain, f"{kind}\x00{case_id}".encode())

    def unseal(self, sealed: bytes, *, case_id: str, kind: str) -> bytes:
        """Raises cryptography's InvalidTag when tampered with or moved."""
        aad = f"{kind}\x00{case_id}".encode()
        return AESGCM(self.evidence).decrypt(sealed[:12], sealed[12:], aad)
