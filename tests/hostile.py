"""What hostile-input tests share: the names requests carry, and the marks of a leaked trace."""

from __future__ import annotations

import re

# a stack trace, or a database driver's name, in a response body
TRACE = re.compile(
    r'Traceback \(most recent call last\)|File "[^"]*", line \d+|sqlalchemy\.|psycopg|sqlite3\.'
)

# every name a protocol or sign-in endpoint reads, so each hostile value reaches a parser or a
# query; few enough that most hostile values, one per name, stay under the 8 KiB query limit
PROTOCOL_NAMES = (
    "client_id",
    "redirect_uri",
    "response_type",
    "scope",
    "state",
    "code_challenge",
    "claims",
    "max_age",
    "tx",
    "grant_type",
    "code",
    "code_verifier",
    "refresh_token",
    "token",
    "token_type_hint",
    "access_token",
    "id_token_hint",
    "post_logout_redirect_uri",
    "phone",
    "password",
    "password_confirm",
    "csrf_token",
    "decision",
    "next",
    "ui_locales",
    "c",
    "enable",
    "credential",
    "purpose",
    "method",
    "name",
    "id",
)

# every name some route reads (the protocol's, then the portal's and the back office's)
NAMES = (
    *PROTOCOL_NAMES,
    "status",
    "reason",
    "role",
    "roles",
    "q",
    "page",
    "action",
    "citizen_id",
    "actor",
    "since",
    "until",
    "days",
    "national_id",
    "full_name_km",
    "full_name_latin",
    "given_name",
    "family_name",
    "birth_date",
    "sex",
    "province",
    "district",
    "commune",
    "address",
    "kind",
    "case_id",
    "agency_id",
    "sector",
    "contacts",
    "member",
    "note",
    "confirm",
    "passkey_id",
)
