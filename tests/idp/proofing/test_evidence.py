"""Sealing and indexing national ID numbers and photos; checking typed evidence."""

from __future__ import annotations

from datetime import date

import pytest
from cryptography.exceptions import InvalidTag

from idp.proofing.evidence import InvalidEvidence, parse_evidence, photo_type
from idp.proofing.keys import ProofingKeys
from tests.proofing import JPEG, PNG, evidence

KEYS = ProofingKeys.derive(b"m" * 32)


def test_the_blind_index_is_keyed_and_stable() -> None:
    assert KEYS.blind_index("123456789") == KEYS.blind_index("123456789")
    assert KEYS.blind_index("123456789") != KEYS.blind_index("123456780")
    other = ProofingKeys.derive(b"n" * 32)
    assert other.blind_index("123456789") != KEYS.blind_index("123456789")
    assert KEYS.index != KEYS.evidence  # separate keys for separate purposes


def test_sealed_values_open_only_in_their_case_and_field() -> None:
    sealed = KEYS.seal(b"123456789", case_id="a" * 32, kind="nid")
    assert b"123456789" not in sealed
    assert KEYS.unseal(sealed, case_id="a" * 32, kind="nid") == b"123456789"
    with pytest.raises(InvalidTag):
        KEYS.unseal(sealed, case_id="b" * 32, kind="nid")
    with pytest.raises(InvalidTag):
        KEYS.unseal(sealed, case_id="a" * 32, kind="photo")


def test_photos_are_recognised_by_their_first_bytes() -> None:
    assert photo_type(PNG, max_bytes=10_000) == "image/png"
    assert photo_type(JPEG, max_bytes=10_000) == "image/jpeg"
    for data, code in [
        (b"", "photo_missing"),
        (b"<svg onload=alert(1)>", "photo_type"),
        (PNG, "photo_too_large"),
    ]:
        with pytest.raises(InvalidEvidence) as caught:
            photo_type(data, max_bytes=10_000 if data != PNG else 10)
        assert caught.value.code == code


def test_evidence_is_normalised() -> None:
    parsed = parse_evidence(evidence(national_id="123 456-789", street=""), today=date(2026, 1, 1))
    assert parsed.national_id == "123456789"
    assert "street" not in parsed.address
    with pytest.raises(InvalidEvidence):
        parse_evidence(evidence(given_name="ដារា"), today=date(2026, 1, 1))  # Latin expected
    with pytest.raises(InvalidEvidence):
        parse_evidence(evidence(birthdate="1990-02-30"), today=date(2026, 1, 1))
