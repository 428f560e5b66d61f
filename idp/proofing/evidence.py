"""What a proofing form carries: checking the typed evidence and the document photo."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

NATIONAL_ID = re.compile(r"[0-9]{9,12}")
SEXES = ("female", "male")
ADDRESS_PARTS = ("province", "district", "commune", "street")
PHOTO_TYPES = {b"\xff\xd8\xff": "image/jpeg", b"\x89PNG\r\n\x1a\n": "image/png"}


class InvalidEvidence(ValueError):
    """The evidence cannot be used; `code` names the message the page shows."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class Evidence:
    national_id: str  # digits only
    given_name: str
    family_name: str
    given_name_km: str
    family_name_km: str
    birthdate: str  # YYYY-MM-DD
    sex: str
    address: dict[str, str]


def _text(values: Mapping[str, str | None], name: str, limit: int = 100) -> str:
    value = (values.get(name) or "").strip()
    # control characters only: Khmer text may hold zero-width spaces, which are not printable
    if len(value) > limit or any(unicodedata.category(c) == "Cc" for c in value):
        return ""
    return value


def parse_evidence(values: Mapping[str, str | None], *, today: date) -> Evidence:
    """The evidence as typed, checked field by field; raises InvalidEvidence."""
    national_id = re.sub(r"[\s-]", "", values.get("national_id") or "")
    if not NATIONAL_ID.fullmatch(national_id):
        raise InvalidEvidence("nid_invalid")
    names = [_text(values, n) for n in ("given_name", "family_name")]
    names_km = [_text(values, n) for n in ("given_name_km", "family_name_km")]
    if not all(names + names_km) or not all(n.isascii() for n in names):
        raise InvalidEvidence("evidence_names_invalid")
    birthdate = (values.get("birthdate") or "").strip()
    try:
        born = date.fromisoformat(birthdate) if len(birthdate) == 10 else None
    except ValueError:
        born = None
    if born is None or not date(1900, 1, 1) <= born <= today:
        raise InvalidEvidence("birthdate_invalid")
    sex = values.get("sex") or ""
    if sex not in SEXES:
        raise InvalidEvidence("sex_invalid")
    address = {part: _text(values, part, 200) for part in ADDRESS_PARTS}
    if not all(address[p] for p in ("province", "district", "commune")):
        raise InvalidEvidence("address_invalid")
    return Evidence(
        national_id=national_id,
        given_name=names[0],
        family_name=names[1],
        given_name_km=names_km[0],
        family_name_km=names_km[1],
        birthdate=born.isoformat(),
        sex=sex,
        address={k: v for k, v in address.items() if v},
    )


def photo_type(data: bytes, *, max_bytes: int) -> str:
    """The media type of a document photo, read from its first bytes (never from the name
    or the Content-Type the browser claims); raises InvalidEvidence."""
    if not data:
        raise InvalidEvidence("photo_missing")
    if len(data) > max_bytes:
        raise InvalidEvidence("photo_too_large")
    for magic, media_type in PHOTO_TYPES.items():
        if data.startswith(magic):
            return media_type
    raise InvalidEvidence("photo_type")
