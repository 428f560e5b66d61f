"""Response headers every endpoint shares."""

# RFC 6749 §5.1 and OIDC Core §3.1.3.3: nothing with tokens or personal data is cached
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
