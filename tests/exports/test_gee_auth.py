"""Connecting: endpoint, project, credentials, and errors that say what to run."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import ee
import google.auth.exceptions
import pytest

from exports.gee.auth import GeeAuth, gcs_gdal_options, initialize, load_credentials
from exports.gee.export import read_geotiff
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


def test_unreachable_server_is_a_transient_source_error(ee_offline: Any) -> None:
    init = FakeInit(ee.EEException("Service Unavailable"))
    with pytest.raises(SourceError) as info:
        initialize(GeeAuth(project="p"), init=init, credentials=object())
    assert info.value.transient


def test_expired_credentials_say_what_to_run(ee_offline: Any) -> None:
    refused = google.auth.exceptions.RefreshError("invalid_grant", {"token": "SECRET-TOKEN"})
    with pytest.raises(ConfigError, match="earthengine authenticate") as info:
        initialize(GeeAuth(project="p"), init=FakeInit(refused), credentials=object())
    assert "SECRET" not in str(info.value)


class _UserCredentials:
    refresh_token = "REFRESH-SECRET"
    client_id = "client-id"
    client_secret = "CLIENT-SECRET"


def test_gcs_reads_use_the_key_file_or_the_user_credentials() -> None:
    keyed = gcs_gdal_options(GeeAuth(key_file=Path("/keys/sa.json")))
    assert keyed["GOOGLE_APPLICATION_CREDENTIALS"] == "/keys/sa.json"
    user = gcs_gdal_options(GeeAuth(), credentials=_UserCredentials())
    assert user["GS_OAUTH2_REFRESH_TOKEN"] == "REFRESH-SECRET"
    assert (user["GS_OAUTH2_CLIENT_ID"], user["GS_OAUTH2_CLIENT_SECRET"]) == (
        "client-id", "CLIENT-SECRET")
    assert keyed["CPL_DEBUG"] == user["CPL_DEBUG"] == "OFF"  # GDAL debug echoes tokens
    assert gcs_gdal_options(GeeAuth(), credentials=object()) == {}  # GDAL finds its own


def test_gcs_credentials_never_reach_the_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    import numpy as np
    import rasterio
    from affine import Affine

    path = tmp_path / "a.tif"
    with rasterio.open(path, "w", driver="GTiff", width=4, height=4, count=1, dtype="uint16",
                       crs="EPSG:32633", transform=Affine(10, 0, 0, 0, -10, 0)) as dst:
        dst.write(np.ones((1, 4, 4), dtype="uint16"))
    monkeypatch.setenv("CPL_DEBUG", "ON")  # a user debugging GDAL
    options = gcs_gdal_options(GeeAuth(), credentials=_UserCredentials())
    with caplog.at_level(logging.DEBUG):
        read_geotiff(str(path), gdal_options=options)
    assert "SECRET" not in caplog.text
