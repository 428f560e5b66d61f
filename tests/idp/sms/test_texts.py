"""What the messages say: idp/sms/texts.py. Each fits one UCS-2 segment (70 UTF-16 code
units) for a typical issuer host, Khmer comes first, and a code travels in the WebOTP line."""

from __future__ import annotations

import re

import pytest

from idp.sms import texts

TYPICAL_HOST = "id.example.gov.kh"  # the production example of docs/configuration.md
LONGEST_HOST_THAT_FITS = 17  # docs/sms.md states it


def is_khmer(line: str) -> bool:
    return any("\u1780" <= ch <= "\u17ff" for ch in line)


@pytest.mark.parametrize("name", sorted(texts.every_message(TYPICAL_HOST)))
def test_every_message_fits_one_segment(name: str) -> None:
    text = texts.every_message(TYPICAL_HOST)[name]
    assert texts.utf16_units(text) <= texts.SEGMENT_UNITS, (name, texts.utf16_units(text))
    assert texts.segments(text) == 1


def test_the_longest_host_that_still_fits() -> None:
    fits = "h" * LONGEST_HOST_THAT_FITS
    assert all(texts.segments(t) == 1 for t in texts.every_message(fits).values())
    longer = "h" * (LONGEST_HOST_THAT_FITS + 1)
    assert any(texts.segments(t) > 1 for t in texts.every_message(longer).values())


@pytest.mark.parametrize("purpose", sorted(texts.CODE_TEXT))
def test_code_messages_end_with_the_origin_bound_line(purpose: str) -> None:
    text = texts.code_message(purpose, code="042917", host=TYPICAL_HOST)
    khmer, english, last = text.split("\n")
    assert is_khmer(khmer)
    assert not is_khmer(english)
    assert english.isascii()
    assert re.fullmatch(r"@id\.example\.gov\.kh #042917", last)
    assert text.count("042917") == 1  # the code only in the line phones read


@pytest.mark.parametrize("kind", sorted(texts.NOTICE_TEXT))
def test_notices_carry_no_code_and_name_the_site(kind: str) -> None:
    khmer, english, last = texts.notice_message(kind, host=TYPICAL_HOST).split("\n")
    assert is_khmer(khmer)
    assert english.isascii()
    assert last == TYPICAL_HOST
    assert "#" not in khmer + english + last


def test_segments_count_utf16_code_units() -> None:
    assert texts.utf16_units("ក" * 70) == 70
    assert texts.segments("ក" * 70) == 1
    assert texts.segments("ក" * 71) == 2  # then 67 units a part
    assert texts.segments("ក" * 134) == 2
    assert texts.segments("ក" * 135) == 3
    assert texts.utf16_units("\U0001f600") == 2  # outside the BMP: a surrogate pair


def test_the_host_is_the_issuer_without_scheme_or_port() -> None:
    assert texts.issuer_host("https://id.example.gov.kh") == "id.example.gov.kh"
    assert texts.issuer_host("http://localhost:8000") == "localhost"
