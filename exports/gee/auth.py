"""Connect the Earth Engine client: credentials, project, endpoint, client-side retries.

Why a module of its own: the failure modes here are the user's to fix (no credentials, no
project, a bad key file), so they become :class:`~lucas.errors.ConfigError` naming the
command or flag that fixes them, while everything after connecting is a source error.
Credentials (tokens, key contents) are never logged nor put in messages.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ee
import google.auth.exceptions
import googleapiclient.errors
import httplib2
import requests

from exports.gee.throttle import MAX_WORKERS, ErrorKind, classify
from lucas.errors import ConfigError, SourceError

log = logging.getLogger(__name__)

STARTUP_ATTEMPTS = 4  # whole start-ups tried; waits of 2, 4, 8 s between them
STARTUP_BACKOFF_S = 2.0
STARTUP_CLIENT_RETRIES = 5  # the client's own retries during start-up (its default)

# What a start-up may raise besides programming errors (those keep their traceback).
_STARTUP_ERRORS = (
    ee.EEException,
    OSError,
    google.auth.exceptions.GoogleAuthError,
    googleapiclient.errors.HttpError,
    httplib2.HttpLib2Error,
)

AUTH_HINT = (
    "run `earthengine authenticate` (user account; or `gcloud auth application-default "
    "login`), or pass --gee-key-file KEY.json (service account)"
)


@dataclass(frozen=True)
class GeeAuth:
    """How to connect: built by the CLI from ``--project`` and ``--gee-key-file``.

    ``client_retries`` is the retry count of the Google API client underneath Earth Engine;
    0 by default so that 429s reach :class:`exports.gee.throttle.Throttle`, which lowers the
    concurrency, instead of being slept on invisibly inside a worker's slot.
    """

    project: str | None = None
    key_file: Path | None = None
    high_volume: bool = True
    deadline_s: float = 300.0
    client_retries: int = 0
    pool_size: int = MAX_WORKERS

    @property
    def url(self) -> str:
        """The API root: the high-volume endpoint is the one meant for many small pixel calls."""
        return (
            ee.data.HIGH_VOLUME_API_BASE_URL
            if self.high_volume
            else ee.data.DEFAULT_CLOUD_API_BASE_URL
        )


def load_credentials(auth: GeeAuth) -> Any:
    """Service-account credentials from the key file, else the user's stored credentials."""
    if auth.key_file is not None:
        return _key_file_credentials(Path(auth.key_file))
    try:
        return ee.data.get_persistent_credentials()
    except ee.EEException as e:
        raise ConfigError(f"no Earth Engine credentials found: {AUTH_HINT}") from e


def _key_file_credentials(path: Path) -> Any:
    if not path.is_file():
        raise ConfigError(f"--gee-key-file {path}: no such file")
    try:
        return ee.ServiceAccountCredentials(key_file=str(path))
    except (ValueError, KeyError, OSError) as e:
        # The library's message may quote the key; name only the error type.
        raise ConfigError(
            f"--gee-key-file {path}: not a usable service-account key ({type(e).__name__}); "
            "use the JSON key downloaded from Cloud console → IAM → Service accounts → Keys"
        ) from None


def initialize(
    auth: GeeAuth,
    *,
    init: Callable[..., None] | None = None,
    credentials: Any = None,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """``ee.Initialize`` with the chosen credentials, project and (high-volume) endpoint.

    Start-up order matters: every start-up request (``ee.Initialize``'s discovery and
    algorithm list, ``setDeadline``'s rebuild of the client) runs while the client still
    retries on its own, and only then are its retries set to ``client_retries`` (0: the
    throttle's job from here on). A transient failure of the whole start-up (network,
    5xx, 429) is tried again :data:`STARTUP_ATTEMPTS` times with backoff, then reported as
    one line naming the project, the endpoint and what to check.

    ``init``, ``credentials`` and ``sleep`` are injectable so tests run without a network;
    the default ``ee.Initialize`` is looked up per call, so a test may also replace it in
    ``ee``.
    """
    creds = credentials if credentials is not None else load_credentials(auth)

    def connect() -> None:
        ee.data.setMaxRetries(STARTUP_CLIENT_RETRIES)
        (init or ee.Initialize)(credentials=creds, url=auth.url, project=auth.project)
        ee.data.setDeadline(auth.deadline_s * 1000.0)  # also rebuilds the client

    waited = 0.0
    for attempt in range(1, STARTUP_ATTEMPTS + 1):
        try:
            connect()
            break
        except _STARTUP_ERRORS as e:
            if not _retryable_startup_error(auth, e) or attempt == STARTUP_ATTEMPTS:
                raise _startup_error(auth, e, attempt, waited) from e
            wait = STARTUP_BACKOFF_S * 2 ** (attempt - 1)
            log.warning("Earth Engine start-up attempt %d failed (%s); retrying in %.0f s",
                        attempt, _describe(e), wait)
            sleep(wait)
            waited += wait
    ee.data.setMaxRetries(auth.client_retries)
    _widen_connection_pool(auth.pool_size)
    log.info(
        "Earth Engine ready (project=%s, endpoint=%s, auth=%s)",
        auth.project or "<from credentials>",
        auth.url,
        "service account key" if auth.key_file else "user credentials",
    )


def _retryable_startup_error(auth: GeeAuth, error: BaseException) -> bool:
    """Whether a start-up failure may pass by itself (not the user's to fix)."""
    if isinstance(error, google.auth.exceptions.TransportError):
        return True  # the token refresh could not reach Google: the network
    if isinstance(error, google.auth.exceptions.GoogleAuthError):
        return False  # expired, revoked, malformed credentials
    if isinstance(error, ee.EEException) and _user_error(auth, error) is not None:
        return False
    return classify(error) is not ErrorKind.DETERMINISTIC


def _user_error(auth: GeeAuth, error: ee.EEException) -> ConfigError | None:
    """The start-up errors only the user can fix, as the line that says how."""
    message = str(error)
    if "no project found" in message:
        return ConfigError(
            "no Earth Engine project: pass --project <cloud-project-id> "
            "(a Cloud project registered for Earth Engine)"
        )
    if "authenticate" in message or "credentials" in message.lower():
        return ConfigError(f"Earth Engine refused the credentials: {AUTH_HINT}")
    return None


def _startup_error(
    auth: GeeAuth, error: BaseException, attempts: int, waited: float
) -> ConfigError | SourceError:
    """One clear line for a start-up that failed for good."""
    if isinstance(error, google.auth.exceptions.RefreshError):
        # Expired or revoked; the error's payload is not echoed (it may quote the token).
        return ConfigError(f"Earth Engine credentials expired or revoked: {AUTH_HINT}")
    if isinstance(error, google.auth.exceptions.GoogleAuthError) and not isinstance(
        error, google.auth.exceptions.TransportError
    ):
        return ConfigError(f"Earth Engine credentials unusable "
                           f"({type(error).__name__}): {AUTH_HINT}")
    if isinstance(error, ee.EEException):
        user = _user_error(auth, error)
        if user is not None:
            return user
    project = auth.project or "<from credentials>"
    if _retryable_startup_error(auth, error):
        return SourceError(
            f"cannot reach Earth Engine at {auth.url} for project {project} after "
            f"{attempts} attempts over {waited:.0f} s: {_describe(error)}. Check the network "
            "(proxy settings such as HTTPS_PROXY, a firewall), Google's status page "
            "(https://status.cloud.google.com), then run the same command again: "
            "the run resumes where it stopped",
            transient=True,
        )
    return ConfigError(
        f"Earth Engine initialisation failed for project {project} at {auth.url}: "
        f"{_describe(error)}. Check that the project is registered for Earth Engine and "
        "that the account may use it (IAM role Earth Engine Resource Viewer or above)"
    )


def _describe(error: BaseException) -> str:
    """The error in one line: its text, or its type when it has none."""
    text = " ".join(str(error).split())
    return text or type(error).__name__


def _widen_connection_pool(size: int) -> None:
    """Let every worker thread keep its HTTPS connection.

    The client sends all calls through one ``requests.Session`` whose default pool holds 10
    connections; with more threads, urllib3 discards a connection per call ("Connection
    pool is full") and pays a new TLS handshake. There is no public setter, hence the
    guarded use of the client's state.
    """
    state = getattr(ee.data, "_get_state", None)
    session = getattr(state(), "requests_session", None) if callable(state) else None
    if isinstance(session, requests.Session):
        adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=size)
        session.mount("https://", adapter)
