"""A citizen's browser over real HTTP: follows the provider's redirects, fills in its forms,
and stops at the agency's redirect_uri (never fetched: only localhost is contacted)."""

from __future__ import annotations

import re
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import requests

from tests.factories import MadeCitizen
from tests.flows import ticked_boxes

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
TX = re.compile(r'name="tx" value="([^"]+)"')
LANG = re.compile(r'<html lang="([^"]+)"')
TIMEOUT = 10
LOCAL_HOSTS = ("localhost", "127.0.0.1")


def query_of(url: str) -> dict[str, str]:
    """A URL's query parameters; each must appear once."""
    values = parse_qs(urlsplit(url).query)
    assert all(len(v) == 1 for v in values.values()), url
    return {k: v[0] for k, v in values.items()}


def page_lang(html: str) -> str:
    match = LANG.search(html)
    assert match, "page has no <html lang>"
    return match.group(1)


def hidden(pattern: re.Pattern[str], html: str) -> str:
    match = pattern.search(html)
    assert match, f"page has no {pattern.pattern}"
    return match.group(1)


class Browser:
    """requests.Session with cookies, redirects followed by hand on the provider's origin."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.http = requests.Session()
        self.visited: list[str] = []  # paths of the provider's pages shown, in order
        self.shown: dict[str, str] = {}  # path -> the last page shown there

    def __enter__(self) -> Browser:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.http.close()

    def url(self, location: str) -> str:
        """The absolute URL of a location; anything off this machine is refused."""
        url = urljoin(self.base_url + "/", location)
        assert urlsplit(url).hostname in LOCAL_HOSTS, f"refusing to leave localhost: {url}"
        return url

    def get(self, location: str, **kwargs: Any) -> requests.Response:
        return self.http.get(self.url(location), allow_redirects=False, timeout=TIMEOUT, **kwargs)

    def post(self, location: str, **kwargs: Any) -> requests.Response:
        return self.http.post(self.url(location), allow_redirects=False, timeout=TIMEOUT, **kwargs)

    def show(self, location: str) -> requests.Response:
        """GET a page the citizen sees (200) and record its path."""
        page = self.get(location)
        assert page.status_code == 200, (location, page.status_code, page.text[:500])
        path = urlsplit(self.url(location)).path
        self.visited.append(path)
        self.shown[path] = page.text
        return page

    def sign_in(self, citizen: MadeCitizen, location: str = "/login") -> str:
        """Fill in the login form at `location`; return where the provider sends us next."""
        page = self.show(location)
        form = {
            "csrf_token": hidden(CSRF, page.text),
            "phone": citizen.phone_number,
            "password": citizen.password,
        }
        if TX.search(page.text):
            form["tx"] = hidden(TX, page.text)
        response = self.post("/login", data=form)
        assert response.status_code == 303, (response.status_code, response.text[:500])
        return response.headers["location"]

    def answer_consent(
        self, location: str, decision: str = "approve", untick: tuple[str, ...] = ()
    ) -> str:
        """Submit the consent form as a browser would: the checked boxes, less `untick`."""
        page = self.show(location)
        form = {
            "csrf_token": hidden(CSRF, page.text),
            "tx": hidden(TX, page.text),
            "decision": decision,
            **ticked_boxes(page.text, untick),
        }
        response = self.post("/consent", data=form)
        assert response.status_code == 303, (response.status_code, response.text[:500])
        return response.headers["location"]

    def authorize(
        self,
        url: str,
        citizen: MadeCitizen,
        redirect_uri: str,
        *,
        decision: str = "approve",
        untick: tuple[str, ...] = (),
    ) -> str:
        """From an authorization URL to the agency's redirect_uri, signing in and answering
        the consent screen (less the boxes in `untick`) when the provider asks; returns the
        URL the agency receives."""
        self.visited.clear()
        response = self.get(url)
        assert response.status_code == 303, (response.status_code, response.text[:500])
        location = response.headers["location"]
        for _ in range(8):
            if location.startswith(redirect_uri):
                return location
            path = urlsplit(self.url(location)).path
            if path == "/login":
                location = self.sign_in(citizen, location)
            elif path == "/consent":
                location = self.answer_consent(location, decision, untick)
            else:
                response = self.get(location)
                assert response.status_code == 303, (response.status_code, response.text[:500])
                location = response.headers["location"]
        raise AssertionError(f"no way to the agency from {location}")
