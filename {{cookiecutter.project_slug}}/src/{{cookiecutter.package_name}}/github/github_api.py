"""A small client for GitHub's REST API: the repository setup and the workflow steps (PR
comment, who applied a label, who approved a deployment) all talk through it.

Standard library only. `GITHUB_API_URL` is set by GitHub Actions (GitHub Enterprise Server too);
`GITHUB_TOKEN` is the workflow's token or, for `github-setup`, an administrator's.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from ..errors import ProjectError

API_VERSION = "2022-11-28"
DEFAULT_API_URL = "https://api.github.com"
TIMEOUT_SECONDS = 30
PAGE_SIZE = 100
# 100,000 items: a bound against a server that never ends a list, far beyond what anyone can
# pile onto a pull request to hide an event (a smaller bound let 5,000 label events block it).
MAX_PAGES = 1000


class GithubError(ProjectError):
    """A GitHub API call failed; the message says which call and why."""


class GithubApiError(GithubError):
    """GitHub answered an HTTP error: one line with the method, path, status and its message."""

    def __init__(self, method: str, path: str, status: int, message: str) -> None:
        self.method, self.path, self.status = method, path, status
        detail = f": {message}" if message else ""
        super().__init__(f"GitHub API {method} {path} -> {status}{detail}")


class _NoCredentialsElsewhere(urllib.request.HTTPRedirectHandler):
    """Follow redirects, but never send the token to another host than the one asked, nor
    over another scheme (https to http would send it in the clear)."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: Any,
        code: int,
        msg: str,
        headers: Any,
        newurl: str,
    ) -> urllib.request.Request | None:
        redirected = super().redirect_request(req, fp, code, msg, headers, newurl)
        before, after = urlsplit(req.full_url), urlsplit(newurl)
        if redirected is not None and (before.scheme, before.netloc) != (
            after.scheme,
            after.netloc,
        ):
            redirected.remove_header("Authorization")
        return redirected


_OPENER = urllib.request.build_opener(_NoCredentialsElsewhere)


def segment(value: str) -> str:
    """One URL path segment: everything but unreserved characters escaped (`/` too)."""
    return quote(value, safe="")


@dataclass(frozen=True)
class Client:
    """The REST API at base_url, authenticated with a bearer token."""

    base_url: str
    token: str

    def request(self, method: str, path: str, body: object = None) -> Any:
        """Send one request; return the decoded JSON answer (None when there is none)."""
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(self.base_url + path, data=data, method=method)
        request.add_header("Accept", "application/vnd.github+json")
        request.add_header("Authorization", f"Bearer {self.token}")
        request.add_header("X-GitHub-Api-Version", API_VERSION)
        request.add_header("User-Agent", f"{__package__}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with _OPENER.open(request, timeout=TIMEOUT_SECONDS) as response:
                raw = response.read()
        except urllib.error.HTTPError as error:
            raise GithubApiError(method, path, error.code, _message(error)) from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
            reason = getattr(error, "reason", error)
            raise GithubError(
                f"GitHub API {method} {path}: cannot reach {self.base_url}: {reason}"
            ) from None
        return json.loads(raw) if raw.strip() else None

    def get_all(self, path: str) -> list[Any]:
        """Every item of a list endpoint, page by page (GitHub pages lists at 100 at most)."""
        items: list[Any] = []
        joiner = "&" if "?" in path else "?"
        for page in range(1, MAX_PAGES + 1):
            batch = self.request("GET", f"{path}{joiner}per_page={PAGE_SIZE}&page={page}") or []
            items.extend(batch)
            if len(batch) < PAGE_SIZE:
                return items
        raise GithubError(f"GitHub API GET {path}: more than {MAX_PAGES} pages, giving up")

    def get_or_none(self, path: str) -> Any:
        """GET, with a 404 answered as None instead of an error."""
        try:
            return self.request("GET", path)
        except GithubApiError as error:
            if error.status == 404:
                return None
            raise


def _message(error: urllib.error.HTTPError) -> str:
    """GitHub's own explanation of an error, on one line (its JSON `message`, and any details)."""
    try:
        payload = json.loads(error.read() or b"{}")
    except (ValueError, OSError):
        payload = {}
    if not isinstance(payload, dict):
        payload = {}
    parts = [str(payload.get("message") or error.reason or "")]
    for item in payload.get("errors") or []:
        if isinstance(item, dict):
            parts.append(str(item.get("message") or item.get("code") or ""))
        else:
            parts.append(str(item))
    return " ".join("; ".join(part for part in parts if part).split())


def client_from_env(environ: Mapping[str, str] = os.environ) -> Client:
    """A client for GITHUB_API_URL with GITHUB_TOKEN; no token is an error before any request."""
    token = environ.get("GITHUB_TOKEN", "").strip()
    if not token:
        raise GithubError(
            "GITHUB_TOKEN is not set: in a workflow pass the job's token; for github-setup, "
            "export a token that may administer the repository (and read organisation teams)"
        )
    base_url = (environ.get("GITHUB_API_URL") or DEFAULT_API_URL).strip().rstrip("/")
    return Client(base_url=base_url, token=token)
