"""Connect the Earth Engine client: credentials, project, endpoint, client-side retries.

Why a module of its own: the failure modes here are the user's to fix (no credentials, no
project, a bad key file), so they become :class:`~lucas.errors.ConfigError` naming the
command or flag that fixes them, while everything after connecting is a source error.
Credentials (tokens, key contents) are never logged nor put in messages.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ee
import google.auth.exceptions
import requests

from exports.gee.throttle import MAX_WORKERS, ErrorKind, classify
from lucas.errors import ConfigError, SourceError

log = logging.getLogger(__name__)

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
) -> None:
    """``ee.Initialize`` with the chosen credentials, project and (high-volume) endpoint.

    ``init`` and ``credentials`` are injectable so tests run without a network; the default
    ``ee.Initialize`` is looked up per call, so a test may also replace it in ``ee``.
    """
    creds = credentials if credentials is not None else load_credentials(auth)
    try:
        (init or ee.Initialize)(credentials=creds, url=auth.url, project=auth.project)
    except ee.EEException as e:
        message = str(e)
        if "no project found" in message:
            raise ConfigError(
                "no Earth Engine project: pass --project <cloud-project-id> "
                "(a Cloud project registered for Earth Engine)"
            ) from e
        if "authenticate" in message or "credentials" in message.lower():
            raise ConfigError(f"Earth Engine refused the credentials: {AUTH_HINT}") from e
        if classify(e) is not ErrorKind.DETERMINISTIC:
            raise SourceError(f"cannot reach Earth Engine: {message}", transient=True) from e
        raise ConfigError(
            f"Earth Engine initialisation failed for project {auth.project!r}: {message}"
        ) from e
    except google.auth.exceptions.RefreshError:
        # Expired or revoked; the error's payload is not echoed (it may quote the token).
        raise ConfigError(f"Earth Engine credentials expired or revoked: {AUTH_HINT}") from None
    except OSError as e:
        raise SourceError(f"cannot reach Earth Engine at {auth.url}: {e}", transient=True) from e
    ee.data.setMaxRetries(auth.client_retries)
    _widen_connection_pool(auth.pool_size)
    ee.data.setDeadline(auth.deadline_s * 1000.0)  # also rebuilds the client on the session
    log.info(
        "Earth Engine ready (project=%s, endpoint=%s, auth=%s)",
        auth.project or "<from credentials>",
        auth.url,
        "service account key" if auth.key_file else "user credentials",
    )


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


def gcs_gdal_options(auth: GeeAuth, credentials: Any = None) -> dict[str, str]:
    """GDAL config options letting ``/vsigs/`` read the batch exports with the same account.

    A service-account key file goes to GDAL as ``GOOGLE_APPLICATION_CREDENTIALS``; stored
    user credentials (``earthengine authenticate`` asks for the Cloud Storage scope too) as
    ``GS_OAUTH2_REFRESH_TOKEN`` + client id/secret. Otherwise none: GDAL then looks for
    credentials itself (gcloud application-default credentials, ``~/.boto``, the GCE
    metadata server). Handed to ``rasterio.Env`` only, never logged; GDAL's own debug output
    is switched off with them, since it echoes the token exchange (``CPL_DEBUG``).
    """
    quiet = {"CPL_DEBUG": "OFF", "CPL_CURL_VERBOSE": "NO"}
    if auth.key_file is not None:
        return {"GOOGLE_APPLICATION_CREDENTIALS": str(auth.key_file), **quiet}
    if credentials is None:
        try:
            credentials = ee.data.get_persistent_credentials()
        except ee.EEException:
            return {}
    values = {
        "GS_OAUTH2_REFRESH_TOKEN": getattr(credentials, "refresh_token", None),
        "GS_OAUTH2_CLIENT_ID": getattr(credentials, "client_id", None),
        "GS_OAUTH2_CLIENT_SECRET": getattr(credentials, "client_secret", None),
    }
    if not all(isinstance(v, str) and v for v in values.values()):
        return {}
    return {**{k: str(v) for k, v in values.items()}, **quiet}
