"""Connecting: endpoint, project, credentials, and errors that say what to run."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import ee
import google.auth.exceptions
import pytest

from exports.gee.auth import GeeAuth, initialize, load_credentials
from lucas.errors import ConfigError, SourceError


class FakeInit:
    def __init__(self, error: Exception | None = None) -> None:
        self.calls: list[dict[str, Any]] = []
        self.error = error

    def __call__(self, **kwargs: Any) -> None:
        self.calls.append(kwargs)
        if self.error is not None:
            raise self.error


def _service_account_key(path: Path) -> str:
    """A syntactically valid service-account key file (a fresh throwaway RSA key)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    info = {
        "type": "service_account",
        "project_id": "my-project",
        "private_key_id": "abc123",
        "private_key": pem,
        "client_email": "etl@my-project.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    path.write_text(json.dumps(info))
    return pem


def test_high_volume_endpoint_and_project_by_default(ee_offline: Any) -> None:
    init = FakeInit()
    creds = object()
    initialize(GeeAuth(project="my-project"), init=init, credentials=creds)
    (call,) = init.calls
    assert call == {
        "credentials": creds,
        "url": ee.data.HIGH_VOLUME_API_BASE_URL,
        "project": "my-project",
    }
    state = ee.data._get_state()
    assert state.max_retries == 0  # 429s reach our throttle
    assert state.requests_session.get_adapter("https://x")._pool_maxsize == 40


def test_standard_endpoint_on_request(ee_offline: Any) -> None:
    init = FakeInit()
    initialize(GeeAuth(project="p", high_volume=False), init=init, credentials=object())
    assert init.calls[0]["url"] == ee.data.DEFAULT_CLOUD_API_BASE_URL


def test_missing_credentials_name_the_command_and_the_flag(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_credentials() -> None:
        raise ee.EEException("Please authorize access to your Earth Engine account")

    monkeypatch.setattr(ee.data, "get_persistent_credentials", no_credentials)
    with pytest.raises(ConfigError) as info:
        load_credentials(GeeAuth(project="p"))
    assert "earthengine authenticate" in str(info.value)
    assert "--gee-key-file" in str(info.value)


def test_missing_key_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--gee-key-file .*no such file"):
        load_credentials(GeeAuth(key_file=tmp_path / "absent.json"))


def test_unusable_key_file_does_not_echo_its_content(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    key = tmp_path / "sa.json"
    key.write_text(json.dumps({"type": "service_account", "private_key": "SECRET-XYZ"}))
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ConfigError, match="--gee-key-file") as info:
        load_credentials(GeeAuth(key_file=key))
    assert "SECRET" not in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert "SECRET" not in caplog.text


def test_service_account_key_is_used_and_never_logged(
    ee_offline: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    key = tmp_path / "sa.json"
    pem = _service_account_key(key)
    init = FakeInit()
    caplog.set_level(logging.DEBUG)
    initialize(GeeAuth(project="my-project", key_file=key), init=init)
    creds = init.calls[0]["credentials"]
    assert creds.service_account_email == "etl@my-project.iam.gserviceaccount.com"
    body = pem.splitlines()[1]
    assert body not in caplog.text and "abc123" not in caplog.text
    assert "service account key" in caplog.text


def test_no_project_is_a_config_error_naming_the_flag(ee_offline: Any) -> None:
    init = FakeInit(ee.EEException(ee.NO_PROJECT_EXCEPTION))
    with pytest.raises(ConfigError, match="--project"):
        initialize(GeeAuth(), init=init, credentials=object())


class FlakyInit(FakeInit):
    """Fails with ``errors`` in turn, then succeeds; records the client's retry count and
    whether setDeadline ran inside each attempt."""

    def __init__(self, *errors: Exception) -> None:
        super().__init__()
        self.errors = list(errors)
        self.retries_seen: list[int] = []

    def __call__(self, **kwargs: Any) -> None:
        self.calls.append(kwargs)
        self.retries_seen.append(ee.data._get_state().max_retries)
        if self.errors:
            raise self.errors.pop(0)


def test_start_up_network_errors_are_retried_with_backoff(
    ee_offline: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    deadlines: list[tuple[float, int]] = []
    real = ee.data.setDeadline

    def set_deadline(ms: float) -> None:
        deadlines.append((ms, ee.data._get_state().max_retries))
        real(ms)

    monkeypatch.setattr(ee.data, "setDeadline", set_deadline)
    init = FlakyInit(ConnectionError("Connection reset by peer"),
                     ee.EEException("Service Unavailable"))
    sleeps: list[float] = []
    initialize(GeeAuth(project="p"), init=init, credentials=object(), sleep=sleeps.append)
    assert len(init.calls) == 3 and sleeps == [2.0, 4.0]
    # Start-up requests run while the client still retries (its default, 5); the
    # deadline's client rebuild too; only then are the client's retries switched off.
    assert init.retries_seen == [5, 5, 5]
    assert deadlines == [(300_000.0, 5)]
    assert ee.data._get_state().max_retries == 0


def test_a_start_up_that_keeps_failing_is_one_clear_transient_error(ee_offline: Any) -> None:
    init = FlakyInit(*[OSError("[Errno 101] Network is unreachable")] * 10)
    sleeps: list[float] = []
    with pytest.raises(SourceError) as info:
        initialize(GeeAuth(project="my-proj"), init=init, credentials=object(),
                   sleep=sleeps.append)
    assert info.value.transient
    assert len(init.calls) == 4 and sleeps == [2.0, 4.0, 8.0]
    message = str(info.value)
    assert message.startswith(
        "cannot reach Earth Engine at https://earthengine-highvolume.googleapis.com for "
        "project my-proj after 4 attempts over 14 s: [Errno 101] Network is unreachable.")
    assert "HTTPS_PROXY" in message and "run the same command again" in message
    assert "\n" not in message


def test_a_token_refresh_that_cannot_reach_google_is_retried(ee_offline: Any) -> None:
    init = FlakyInit(google.auth.exceptions.TransportError("connection refused"))
    sleeps: list[float] = []
    initialize(GeeAuth(project="p"), init=init, credentials=object(), sleep=sleeps.append)
    assert len(init.calls) == 2 and sleeps == [2.0]


@pytest.mark.parametrize("error", [
    ee.EEException(ee.NO_PROJECT_EXCEPTION),
    google.auth.exceptions.RefreshError("invalid_grant"),
    ee.EEException("Permission denied: caller lacks serviceusage.services.use"),
])
def test_errors_the_user_must_fix_are_not_retried(ee_offline: Any, error: Exception) -> None:
    init = FlakyInit(error)
    sleeps: list[float] = []
    with pytest.raises(ConfigError):
        initialize(GeeAuth(project="p"), init=init, credentials=object(), sleep=sleeps.append)
    assert len(init.calls) == 1 and sleeps == []


def test_expired_credentials_say_what_to_run(ee_offline: Any) -> None:
    refused = google.auth.exceptions.RefreshError("invalid_grant", {"token": "SECRET-TOKEN"})
    with pytest.raises(ConfigError, match="earthengine authenticate") as info:
        initialize(GeeAuth(project="p"), init=FakeInit(refused), credentials=object())
    assert "SECRET" not in str(info.value)
