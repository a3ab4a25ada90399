"""HTTP plumbing of the STAC API source: the API's address, timeouts, bounded retries.

Two clients talk HTTP here: ``pystac-client`` (requests) for the searches, and GDAL's curl
driver for the COG reads. :class:`HttpSettings` configures both from one place, so a test
can make every timeout short and every backoff tiny.

Searches: every request (a landing page, a search page, a ``next`` page) is retried on
HTTP 408/425/429/5xx, connection errors, timeouts and truncated bodies, with exponential
backoff + jitter and a bounded number of attempts. The retry sits around pystac-client's
``StacApiIO.request`` rather than in urllib3's ``Retry`` because urllib3 retries neither a
body that stalls after its headers nor one cut short (requests reads the body after
urllib3 has returned); other errors (400, 404, a JSON error) are raised at once.

Reads: GDAL retries 429/5xx and curl timeouts itself (``GDAL_HTTP_MAX_RETRY``); what still
fails is classified by :func:`exports.stac.window.is_transient` and retried by the export
stage, or drops the scene for the points it hit (404, 403: the asset is not there).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests
import tenacity
from pystac import Link
from pystac_client import Client
from pystac_client.stac_api_io import StacApiIO

from exports.stac.hrefs import HrefPolicy
from lucas.errors import ConfigError, SourceError

log = logging.getLogger(__name__)

EARTH_SEARCH_URL = "https://earth-search.aws.element84.com/v1"
DEFAULT_COLLECTION = "sentinel-2-l2a"
STAC_URL_ALIASES = {"earth-search": EARTH_SEARCH_URL, "earthsearch": EARTH_SEARCH_URL}
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
USER_AGENT = "sen4map-etl (STAC API source)"


def resolve_stac_url(text: str) -> str:
    """The API URL for ``--stac-url``: an alias (``earth-search``) or an http(s) URL."""
    value = text.strip()
    alias = STAC_URL_ALIASES.get(value.lower())
    if alias is not None:
        return alias
    if not value.startswith(("http://", "https://")):
        raise ConfigError(
            f"--stac-url {text!r}: not an http(s) URL; give the API's root URL, e.g. "
            f"{EARTH_SEARCH_URL}, or the alias 'earth-search'"
        )
    return value.rstrip("/")


@dataclass(frozen=True)
class HttpSettings:
    """Timeouts and retries of searches and reads (defaults suit Earth Search over WAN)."""

    connect_timeout_s: float = 10.0
    read_timeout_s: float = 60.0  # searches: per socket read; reads: whole request
    attempts: int = 5  # per request, the first try included
    backoff_s: float = 1.0  # first wait; doubles each retry, plus jitter
    backoff_max_s: float = 30.0
    jitter_s: float = 1.0

    def __post_init__(self) -> None:
        """Refuse settings that would never send a request or never time out."""
        if self.attempts < 1:
            raise ConfigError(f"HTTP attempts must be >= 1, got {self.attempts}")
        if min(self.connect_timeout_s, self.read_timeout_s) <= 0:
            raise ConfigError("HTTP timeouts must be > 0 seconds")

    def gdal_options(self) -> dict[str, str | int]:
        """GDAL curl settings for many small windows of COGs over HTTPS.

        Added to :data:`exports.gdal_env.GDAL_ENV` (no directory listing on open, COG
        extensions only, merged consecutive ranges, HTTP/2 multiplexing, the block cache
        in bytes, VSI_CACHE): timeouts, retries with backoff, a larger cache of downloaded
        ranges, anonymous access to ``s3://`` hrefs (Earth Search's alternate assets).
        """
        return {
            "GDAL_HTTP_CONNECTTIMEOUT": _seconds(self.connect_timeout_s),
            "GDAL_HTTP_TIMEOUT": _seconds(self.read_timeout_s),
            # A transfer slower than 1 byte/s for this long is a stalled one.
            "GDAL_HTTP_LOW_SPEED_LIMIT": 1,
            "GDAL_HTTP_LOW_SPEED_TIME": _seconds(self.read_timeout_s),
            "GDAL_HTTP_MAX_RETRY": self.attempts - 1,
            "GDAL_HTTP_RETRY_DELAY": f"{self.backoff_s:g}",
            "GDAL_HTTP_USERAGENT": USER_AGENT,
            "CPL_VSIL_CURL_CACHE_SIZE": 64 * 2**20,  # downloaded ranges kept per process
            "AWS_NO_SIGN_REQUEST": "YES",
        }


def _seconds(value: float) -> int:
    """GDAL's curl timeouts are whole seconds (at least 1)."""
    return max(1, round(value))


def is_transient(e: BaseException) -> bool:
    """Whether retrying a failed API request may help (throttling, server or network)."""
    status = getattr(e, "status_code", None)
    if status is not None:
        return int(status) in RETRY_STATUSES
    cause = e.__cause__ or e.__context__
    return isinstance(e, requests.RequestException) or isinstance(
        cause, requests.RequestException
    )


def describe_error(e: BaseException) -> str:
    """A one-line account of an API error: the status and the start of the body."""
    status = getattr(e, "status_code", None)
    text = " ".join(str(e).split())[:200] or type(e).__name__
    return f"HTTP {status}: {text}" if status is not None else text


class RetryingStacApiIO(StacApiIO):
    """pystac-client's I/O with bounded retries of transient failures around each request,
    and only to hosts ``hrefs`` allows: a ``next`` or ``search`` link of the API's answers
    pointing elsewhere (another host, a local file) is refused, never fetched."""

    def __init__(
        self,
        settings: HttpSettings,
        sleep: Callable[[float], None] | None = None,
        hrefs: HrefPolicy | None = None,
    ) -> None:
        """urllib3's own retries are off: they would multiply the attempts of ``settings``."""
        super().__init__(
            headers={"User-Agent": USER_AGENT},
            timeout=(settings.connect_timeout_s, settings.read_timeout_s),
            max_retries=None,  # ours, below: urllib3's would multiply the attempts
        )
        self.settings = settings
        self.requests_sent = 0
        self.retries = 0
        self._sleep = sleep or time.sleep
        self.hrefs = hrefs

    def read_text(self, source: Any, *args: Any, **kwargs: Any) -> str:
        """pystac-client's read (a URL, a link, else a local file), after the href check."""
        self._check(str(source.href if isinstance(source, Link) else source))
        return str(super().read_text(source, *args, **kwargs))

    def request(
        self,
        href: str,
        method: str | None = None,
        headers: dict[str, str] | None = None,
        parameters: dict[str, Any] | None = None,
    ) -> str:
        """pystac-client's request, retried here: urllib3 cannot retry a stalled body."""
        self._check(href)
        s = self.settings
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(s.attempts),
            wait=tenacity.wait_exponential(multiplier=s.backoff_s, max=s.backoff_max_s)
            + tenacity.wait_random(0, s.jitter_s),
            retry=tenacity.retry_if_exception(is_transient),
            reraise=True,
            before_sleep=lambda state: self._log_retry(href, state),
            sleep=self._sleep,
        )
        return retrying(self._request_once, href, method, headers, parameters)

    def _check(self, href: str) -> None:
        why = self.hrefs.refusal(href) if self.hrefs is not None else None
        if why is not None:
            raise SourceError(f"STAC API request to {href} refused: {why}")

    def _request_once(
        self,
        href: str,
        method: str | None,
        headers: dict[str, str] | None,
        parameters: dict[str, Any] | None,
    ) -> str:
        self.requests_sent += 1
        return super().request(href, method=method, headers=headers, parameters=parameters)

    def _log_retry(self, href: str, state: tenacity.RetryCallState) -> None:
        self.retries += 1
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        log.warning(
            "STAC API %s: attempt %d of %d failed (%s); retrying in %.1f s",
            href, state.attempt_number, self.settings.attempts,
            describe_error(exc) if exc else "?", wait,
        )


def open_client(
    url: str,
    settings: HttpSettings,
    sleep: Callable[[float], None] | None = None,
    hrefs: HrefPolicy | None = None,
) -> tuple[Client, RetryingStacApiIO]:
    """The API's client (its landing page read, with retries) and the I/O it uses."""
    io = RetryingStacApiIO(settings, sleep, hrefs)
    timeout = (settings.connect_timeout_s, settings.read_timeout_s)
    client = Client.open(url, stac_io=io, timeout=timeout)
    return client, io
