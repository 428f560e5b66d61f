"""The one exception hierarchy: every protocol failure is an OAuthError subclass."""

from __future__ import annotations

from typing import ClassVar


class IdpError(Exception):
    """Root of the hierarchy: catch this, never bare Exception.

    `keep_changes` asks the request's transaction to commit even though the request
    failed: a replayed code or refresh token must stay revoked after the error.
    """

    keep_changes: bool = False


class AuthenticationFailed(IdpError):
    """A sign-in attempt failed; the page says so without saying why."""


class Throttled(IdpError):
    """Too many failed attempts from this account or address; try again later."""


class PageError(IdpError):
    """A browser request that cannot go on; rendered as an HTML page saying what to do."""

    def __init__(self, title: str, message: str, *, status_code: int = 400) -> None:
        super().__init__(message)
        self.title = title
        self.message = message
        self.status_code = status_code


class OAuthError(IdpError):
    """An OAuth 2.0 / OIDC error response: `error` is the spec's code."""

    error: ClassVar[str] = "server_error"
    status_code: ClassVar[int] = 400

    def __init__(
        self, description: str = "", *, debug: str = "", keep_changes: bool = False
    ) -> None:
        super().__init__(description or self.error)
        self.description = description  # sent to the client: ASCII, no secrets, no PII
        self.debug = debug  # logged, never sent
        self.keep_changes = keep_changes


class InvalidRequest(OAuthError):
    error = "invalid_request"


class InvalidClient(OAuthError):
    error = "invalid_client"
    status_code = 401


class InvalidGrant(OAuthError):
    error = "invalid_grant"


class UnauthorizedClient(OAuthError):
    error = "unauthorized_client"


class UnsupportedGrantType(OAuthError):
    error = "unsupported_grant_type"


class UnsupportedResponseType(OAuthError):
    error = "unsupported_response_type"


class UnsupportedTokenType(OAuthError):
    error = "unsupported_token_type"


class InvalidScope(OAuthError):
    error = "invalid_scope"


class AccessDenied(OAuthError):
    error = "access_denied"
    status_code = 403


class LoginRequired(OAuthError):
    error = "login_required"


class ConsentRequired(OAuthError):
    error = "consent_required"


class UnmetAuthenticationRequirements(OAuthError):
    """OpenID Connect Core Error Code unmet_authentication_requirements 1.0."""

    error = "unmet_authentication_requirements"


class RequestNotSupported(OAuthError):
    error = "request_not_supported"


class RequestUriNotSupported(OAuthError):
    error = "request_uri_not_supported"


class InvalidToken(OAuthError):
    """RFC 6750 §3.1: a bearer token that is missing, expired, revoked or malformed."""

    error = "invalid_token"
    status_code = 401


class ServerError(OAuthError):
    error = "server_error"
    status_code = 500
