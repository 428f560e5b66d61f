"""What the text messages say: Khmer, then English, in one SMS segment.

Khmer needs the UCS-2 encoding, where one segment holds 70 UTF-16 code units (a longer
message is split into 67-unit parts, each billed). A message with a code ends with the
origin-bound one-time code line `@host #code` (WICG WebOTP format), so phones offer the code
only on the provider's own site and a phishing page cannot have it filled in.
"""

from __future__ import annotations

from urllib.parse import urlsplit

SEGMENT_UNITS = 70  # UCS-2, one segment
PART_UNITS = 67  # UCS-2, each part of a concatenated message

# (Khmer, English) per purpose; the code line follows
CODE_TEXT = {
    "signup": ("លេខកូដសម្ងាត់ចុះឈ្មោះ", "Secret sign-up code"),
    "login": ("លេខកូដសម្ងាត់ចូលគណនី", "Secret sign-in code"),
    "mfa": ("លេខកូដសម្ងាត់ចូលគណនី", "Secret sign-in code"),
    "recovery": ("លេខកូដសម្ងាត់ស្ដារគណនី", "Secret recovery code"),
    "phone": ("លេខកូដសម្ងាត់ប្ដូរលេខ", "Code for new number"),
}

# notices carry no code; their last line is the site's address
NOTICE_TEXT = {
    # sent instead of a sign-up code when the number already has an account
    "taken": ("មានគណនីហើយ ចូល ឬស្ដារ", "Registered: log in or recover"),
    "password_changed": ("ពាក្យសម្ងាត់ត្រូវបានប្ដូរ", "Your password was changed"),
    # sent to the number an account leaves
    "phone_changed": ("លេខគណនីត្រូវបានប្ដូរ", "Account moved to a new number"),
}


def issuer_host(issuer: str) -> str:
    return urlsplit(issuer).hostname or issuer


def code_message(purpose: str, *, code: str, host: str) -> str:
    khmer, english = CODE_TEXT[purpose]
    return f"{khmer}\n{english}\n@{host} #{code}"


def notice_message(kind: str, *, host: str) -> str:
    khmer, english = NOTICE_TEXT[kind]
    return f"{khmer}\n{english}\n{host}"


def utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def segments(text: str) -> int:
    """SMS segments the text needs in UCS-2 (Khmer forces UCS-2 for the whole message)."""
    units = utf16_units(text)
    return 1 if units <= SEGMENT_UNITS else -(-units // PART_UNITS)


def every_message(host: str) -> dict[str, str]:
    """Each message as it would be sent from `host`, with a sample code."""
    texts = {f"code:{p}": code_message(p, code="000000", host=host) for p in CODE_TEXT}
    texts.update({f"notice:{k}": notice_message(k, host=host) for k in NOTICE_TEXT})
    return texts
