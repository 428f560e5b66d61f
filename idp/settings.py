"""Settings of the provider: every one is an environment variable IDP_ + its name."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]", "::1"})


class Settings(BaseSettings):
    """Every setting of the provider, documented where it is declared."""

    model_config = SettingsConfigDict(env_prefix="IDP_", env_file=".env", extra="ignore")

    issuer: str = Field(
        "http://localhost:8000",
        description="The `iss` of every token and the base of every endpoint URL; https, "
        "except http://localhost for development; no trailing slash.",
    )
    data_dir: Path = Field(
        Path("data"), description="Where the SQLite database and the dev master key live."
    )
    database_url: str = Field(
        "", description="SQLAlchemy URL; empty means a SQLite file in data_dir."
    )
    db_pool_size: int = Field(
        20,
        ge=1,
        le=200,
        description="PostgreSQL connections each worker keeps open, and the threads it "
        "serves requests with; workers x (pool size + overflow) must stay under the "
        "server's max_connections.",
    )
    db_max_overflow: int = Field(
        10, ge=0, le=200, description="Extra connections a worker may open under load."
    )
    redis_url: str = Field(
        "",
        description="Redis URL (redis://host:6379/0) for failed-sign-in counters; empty keeps "
        "them in the database.",
    )
    master_key: SecretStr | None = Field(
        None,
        description="Key-encryption key (32+ random bytes, base64url or any long string) for "
        "signing keys, pairwise subjects, CSRF tokens and SMS codes. Unset: data_dir/master.key, "
        "created with mode 0600 on first start (development only).",
    )
    code_ttl_seconds: int = Field(60, ge=10, le=600, description="OIDC Core §3.1.2.5")
    access_token_ttl_seconds: int = Field(300, ge=60, le=3600)
    id_token_ttl_seconds: int = Field(300, ge=60, le=3600)
    refresh_token_ttl_seconds: int = Field(
        30 * 24 * 3600, ge=3600, description="Lifetime of a refresh-token family (offline_access)."
    )
    login_ttl_seconds: int = Field(
        900, ge=60, le=3600, description="How long a pending authorization request waits."
    )
    session_idle_seconds: int = Field(1800, ge=60, description="Sign-in session idle timeout.")
    session_max_seconds: int = Field(
        12 * 3600, ge=300, description="Sign-in session absolute timeout."
    )
    pkce_required_for_confidential: bool = Field(
        True,
        description="PKCE (S256) for confidential clients too, as RFC 9700 advises; public "
        "clients always need it, and `plain` is always refused.",
    )
    argon2_memory_kib: int = Field(19456, ge=19456, description="OWASP minimum: 19 MiB.")
    argon2_time_cost: int = Field(2, ge=2)
    argon2_parallelism: int = Field(1, ge=1)
    login_max_failures_per_account: int = Field(
        5, ge=1, description="Failed sign-ins per identifier in login_failure_window_seconds."
    )
    login_max_failures_per_ip: int = Field(
        50, ge=1, description="Failed sign-ins per client IP in login_failure_window_seconds."
    )
    login_failure_window_seconds: int = Field(900, ge=60)
    key_cache_seconds: int = Field(
        30, ge=0, le=300, description="How long a worker reuses signing keys read from the DB."
    )
    demo: bool = Field(
        False, description="Mount the sample agency app at /demo (set by `idp serve --demo`)."
    )
    event_retry_seconds: int = Field(
        5,
        ge=1,
        le=300,
        description="First wait before redelivering an event an agency did not accept; it "
        "doubles with each try up to an hour.",
    )
    audit_seal_seconds: float = Field(
        1.0,
        ge=0.1,
        le=60,
        description="How often every worker seals new audit entries: gives them their place in "
        "the hash chain. An entry is outside the chain for about this long after its commit.",
    )
    audit_checkpoint_seconds: int = Field(
        3600,
        ge=300,
        le=7 * 24 * 3600,
        description="How often the sweeper signs a checkpoint of the audit chain (it looks "
        "every 5 minutes; one checkpoint per interval, however many workers).",
    )
    jurisdiction: str = Field(
        "KH", description="ISO 3166 country code whose law governs consent (on receipts)."
    )
    default_phone_region: str = Field("KH", description="Region for numbers typed without +.")
    trusted_proxy_count: int = Field(
        0, ge=0, description="Proxies in front whose X-Forwarded-For entries are trusted."
    )
    sms_gateway: Literal["console", "http"] = Field(
        "console",
        description="Where text messages go: `console` writes them, codes included, to the log "
        "(development only: refused with an https issuer); `http` posts them to sms_http_url.",
    )
    sms_http_url: str = Field(
        "", description="The HTTP gateway's endpoint (JSON POST, see docs/sms.md); https."
    )
    sms_http_authorization: SecretStr | None = Field(
        None, description="The whole Authorization header value sent to the HTTP gateway."
    )
    sms_sender: str = Field(
        "CitizenID", max_length=11, description="Sender name or number passed to the gateway."
    )
    sms_http_timeout_seconds: float = Field(
        10.0, ge=0.5, le=60, description="Time allowed for one request to the HTTP gateway."
    )
    sms_retry_seconds: int = Field(
        2,
        ge=1,
        le=60,
        description="First wait before resending a message the gateway failed to take (5xx or "
        "network error); it doubles with each try until the message expires.",
    )
    sms_login_enabled: bool = Field(
        True, description='Offer "Sign in with a code" (SMS alone, the lowest acr level).'
    )
    webauthn_rp_id: str = Field(
        "",
        description="The WebAuthn relying party ID passkeys are bound to: the issuer's host "
        "(empty, the default) or a registrable domain it ends with. Changing it later makes "
        "every registered passkey unusable.",
    )
    passkey_options_max_per_ip: int = Field(
        450,
        ge=1,
        description="Passkey challenges (POST /passkeys/options) per client IP in "
        "login_failure_window_seconds: 30 a minute on average with the default window.",
    )
    sms_allowed_country_codes: str = Field(
        "855",
        description="Comma-separated calling codes that messages may be sent to (855 is "
        "Cambodia); other numbers are refused before anything is sent.",
    )
    sms_resend_cooldown_seconds: int = Field(
        60, ge=10, le=3600, description="Wait between two messages to one number."
    )
    sms_max_per_number_per_hour: int = Field(5, ge=1, description="Messages to one number.")
    sms_max_per_number_per_day: int = Field(10, ge=1, description="Messages to one number.")
    sms_max_per_ip_per_hour: int = Field(
        20, ge=1, description="Messages asked for from one client address in an hour."
    )
    sms_max_per_client_per_day: int = Field(
        5000,
        ge=1,
        description="Messages asked for during sign-ins for one agency client in 24 hours.",
    )
    sms_max_per_day: int = Field(
        20000, ge=1, description="Global budget: messages sent in 24 hours, all purposes."
    )
    proofing_photo_max_bytes: int = Field(
        5 * 1024 * 1024,
        ge=64 * 1024,
        le=20 * 1024 * 1024,
        description="Largest document photo (JPEG or PNG) a proofing case accepts.",
    )
    proofing_dual_control_from: Literal["verified-remote", "verified-in-person"] = Field(
        "verified-remote",
        description="Approvals reaching this identity level need two different officers.",
    )
    proofing_organization: str = Field(
        "Citizen IdP",
        max_length=200,
        description="The verifier's organization named in verified_claims evidence.",
    )

    @field_validator("issuer")
    @classmethod
    def require_https_issuer(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.path or parts.query or parts.fragment or not parts.hostname:
            raise ValueError("issuer must be a scheme and host only, without a path or slash")
        if parts.scheme == "https":
            return value
        if parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS:
            return value
        raise ValueError("issuer must use https (http only for localhost)")

    @field_validator("sms_allowed_country_codes")
    @classmethod
    def require_calling_codes(cls, value: str) -> str:
        codes = [code.strip().lstrip("+") for code in value.split(",") if code.strip()]
        if not codes or not all(c.isascii() and c.isdigit() and len(c) <= 3 for c in codes):
            raise ValueError("sms_allowed_country_codes must be calling codes such as 855,66")
        return ",".join(codes)

    @model_validator(mode="after")
    def require_real_gateway_in_production(self) -> Settings:
        if self.sms_gateway == "console" and not self.is_development:
            raise ValueError("the console SMS gateway writes codes to the log: use http")
        if self.sms_gateway == "http":
            url = urlsplit(self.sms_http_url)
            loopback = url.scheme == "http" and url.hostname in LOOPBACK_HOSTS
            if not url.hostname or not (url.scheme == "https" or loopback):
                raise ValueError("sms_http_url must be an https URL (http only on loopback)")
        return self

    @model_validator(mode="after")
    def require_rp_id_of_issuer(self) -> Settings:
        """WebAuthn §5.1.4.1: the RP ID is the origin's host or a domain that host ends with."""
        host = urlsplit(self.issuer).hostname or ""
        rp_id = self.webauthn_rp_id
        if rp_id and not (host == rp_id or host.endswith("." + rp_id)):
            raise ValueError("webauthn_rp_id must be the issuer's host or a domain it ends with")
        return self

    @property
    def rp_id(self) -> str:
        """The WebAuthn RP ID in use (the setting, else the issuer's host)."""
        return self.webauthn_rp_id or urlsplit(self.issuer).hostname or ""

    @property
    def sms_country_codes(self) -> frozenset[int]:
        return frozenset(int(code) for code in self.sms_allowed_country_codes.split(","))

    @property
    def sqlalchemy_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'idp.db'}"

    @property
    def is_development(self) -> bool:
        """An http://localhost issuer: loopback http URLs may then be fetched (agencies' test
        keys and sector documents); a production provider fetches https only."""
        return self.issuer.startswith("http://")

    @property
    def cookie_secure(self) -> bool:
        return self.issuer.startswith("https://")

    def endpoint(self, path: str) -> str:
        return f"{self.issuer}{path}"
