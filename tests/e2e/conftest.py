"""Fixtures for end-to-end tests: live servers (see live.py) and a citizen's browser.

A failing test shows what each running server logged while it ran.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator

import pytest
from authlib.integrations.requests_client import OAuth2Session

from idp.provider import Provider
from tests.e2e.agency import HOME, Agency, SignedIn, sign_in
from tests.e2e.browser import Browser
from tests.e2e.by_hand import Parties
from tests.e2e.live import LiveServer, ServerPool, run_cli
from tests.factories import MadeCitizen, make_citizen
from tests.sms_gateway import SmsGateway

LOG_TAIL = 12_000  # characters of a server's log shown with a failure
POOL = pytest.StashKey[ServerPool]()
LOG_OFFSETS = pytest.StashKey[dict[str, int]]()


@pytest.fixture(scope="package")
def live_servers(
    database_url: str,
    provider: Provider,  # the schema and signing keys exist before any server starts
    tmp_path_factory: pytest.TempPathFactory,
    pytestconfig: pytest.Config,
    sms_gateway: SmsGateway,
) -> Iterator[ServerPool]:
    """Servers for this package's tests, all stopped once its last test has run."""
    pool = ServerPool(
        database_url=database_url,
        root=tmp_path_factory.mktemp("servers"),
        # every server delivers events from the one outbox in the database: whichever
        # claims an event retries it after a second, not the default five
        settings={
            "IDP_EVENT_RETRY_SECONDS": "1",
            # likewise every server sends text messages from the one SMS outbox: all to the
            # test gateway, and retried after a second
            "IDP_SMS_GATEWAY": "http",
            "IDP_SMS_HTTP_URL": sms_gateway.url,
            "IDP_SMS_RETRY_SECONDS": "1",
        },
    )
    pytestconfig.stash[POOL] = pool
    try:
        yield pool
    finally:
        pool.stop_all()


@pytest.fixture(scope="package")
def server(live_servers: ServerPool) -> LiveServer:
    """The default server most tests talk to."""
    return live_servers.start()[0]


@pytest.fixture
def browser(server: LiveServer) -> Iterator[Browser]:
    """A citizen's fresh browser (its own cookies) pointed at the default server."""
    with Browser(server.url) as citizen_browser:
        yield citizen_browser


@pytest.fixture(scope="package")
def cli_agency(server: LiveServer) -> Agency:
    """An agency registered the way an operator does it: `idp clients create`."""
    out = run_cli(
        server,
        "clients",
        "create",
        "--name",
        "Ministry of Commerce",
        "--redirect-uri",
        "https://agency.example.gov.kh/callback",
        "--post-logout-redirect-uri",
        HOME,
    )
    assert out["token_endpoint_auth_method"] == "client_secret_basic"
    return Agency(out["client_id"], out["client_secret"], "client_secret_basic")


@pytest.fixture
def cli_client(cli_agency: Agency) -> Iterator[OAuth2Session]:
    """Authlib's OAuth2Session configured as the CLI-registered agency."""
    with cli_agency.oauth() as session:
        yield session


@pytest.fixture
def signed_in(
    server: LiveServer,
    browser: Browser,
    cli_client: OAuth2Session,
    cli_agency: Agency,
    citizen: MadeCitizen,
) -> SignedIn:
    """A citizen signed in to the CLI-registered agency, tokens in hand."""
    return sign_in(cli_client, cli_agency, server, browser, citizen)


@pytest.fixture
def citizen(provider: Provider) -> MadeCitizen:
    """A new citizen, not yet signed in anywhere nor consenting to anything."""
    return make_citizen(provider)


@pytest.fixture(scope="module")
def agency(provider: Provider) -> Agency:
    """An agency (client_secret_basic) shared by one module's tests."""
    return Agency.register(provider)


@pytest.fixture(scope="module")
def other_agency(provider: Provider) -> Agency:
    """An agency on another host (so another sector for pairwise `sub`)."""
    return Agency.register(provider, redirect_uri="https://other.example.gov.kh/callback")


@pytest.fixture
def parties(
    server: LiveServer, browser: Browser, agency: Agency, citizen: MadeCitizen
) -> Iterator[Parties]:
    with agency.oauth() as client:
        yield Parties(server, agency, client, citizen, browser)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Where each running server's log stands before the test; servers started later by
    its fixtures are shown from their start."""
    pool = item.config.stash.get(POOL, None)
    if pool is not None:
        item.stash[LOG_OFFSETS] = {server.name: server.log_size() for server in pool.servers}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    pool = item.config.stash.get(POOL, None)
    if report.failed and pool is not None:
        offsets = item.stash.get(LOG_OFFSETS, {})
        for server in pool.servers:
            text = server.log(offsets.get(server.name, 0))[-LOG_TAIL:]
            report.sections.append((f"{server.name} log ({server.url})", text))
    return report
