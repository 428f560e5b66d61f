"""Response headers every endpoint shares, and the bare answer to a fault of ours."""

from starlette.responses import JSONResponse

# RFC 6749 §5.1 and OIDC Core §3.1.3.3: nothing with tokens or personal data is cached
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def server_error() -> JSONResponse:
    """500 `server_error`: what a program gets for a fault of ours, never a trace."""
    return JSONResponse({"error": "server_error"}, status_code=500, headers=NO_STORE)
