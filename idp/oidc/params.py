"""Request parameters: query or urlencoded body, each name once (RFC 6749 §3.1, §3.2)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl

from fastapi import Request

from idp.errors import InvalidRequest

MAX_FIELDS = 64
MAX_VALUE = 16_384  # room for an id_token_hint or a claims request
FORM = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class Params:
    values: dict[str, str]
    repeated: frozenset[str]

    def get(self, name: str) -> str | None:
        value = self.values.get(name)
        return value if value else None  # an empty parameter counts as absent (RFC 6749 §3.1)

    def require(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise InvalidRequest(f"{name} is required.")
        return value


def parse(text: str) -> Params:
    """Parse urlencoded text. Raises InvalidRequest on bad encoding, NUL bytes or excess."""
    try:
        pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FIELDS, errors="strict")
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidRequest("The request parameters are malformed.") from exc
    values: dict[str, str] = {}
    repeated = set()
    for name, value in pairs:
        if "\x00" in name or "\x00" in value or len(value) > MAX_VALUE or len(name) > 100:
            raise InvalidRequest("A request parameter is malformed or too long.")
        if name in values:
            repeated.add(name)
        values[name] = value
    return Params(values=values, repeated=frozenset(repeated))


async def read_body(request: Request) -> Params:
    """The urlencoded body of a POST; anything else is invalid_request."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != FORM:
        raise InvalidRequest(f"The body must be {FORM}.")
    body = await request.body()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidRequest("The request body is not UTF-8.") from exc
    return parse(text)


async def read_query(request: Request) -> Params:
    return parse(request.url.query)


async def read_query_or_body(request: Request) -> Params:
    """Authorization, userinfo and logout accept both GET and POST."""
    if request.method == "POST":
        return await read_body(request)
    return await read_query(request)
