"""Shared test fixtures: the ../shared reference folder and a loopback-only network guard."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

SHARED = Path(__file__).parents[1].parent / "shared"
_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``/work/shared`` beside the repository (real-data tests skip without it)."""
    if not SHARED.is_dir():
        pytest.skip(
            "../shared not found: real-data tests need the shared folder beside the repository"
        )
    return SHARED


def _is_loopback(address: Any) -> bool:
    if isinstance(address, (str, bytes)):  # AF_UNIX socket path: local by definition
        return True
    if not (isinstance(address, tuple) and address):
        return False
    host = address[0]
    if isinstance(host, bytes):
        host = host.decode()
    host = str(host).strip("[]")
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def _no_network(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Refuse connections to anything but loopback (tests never reach a real host), except
    in ``gee``-marked tests, which check a user's real Earth Engine setup on request."""
    if request.node.get_closest_marker("gee") is not None:
        yield
        return
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_create = socket.create_connection

    def connect(self: socket.socket, address: Any) -> Any:
        if not _is_loopback(address):
            raise OSError(f"network access refused in tests: {address!r}")
        return real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> Any:
        if not _is_loopback(address):
            raise OSError(f"network access refused in tests: {address!r}")
        return real_connect_ex(self, address)

    def create_connection(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
        if not _is_loopback(address):
            raise OSError(f"network access refused in tests: {address!r}")
        return real_create(address, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "create_connection", create_connection)
    yield


@pytest.fixture
def ee_offline() -> Iterator[Any]:
    """Earth Engine initialised offline (the wheel's ee.apitestcase: canned algorithms)."""
    from tests.exports.gee_fakes import offline_ee

    with offline_ee() as case:
        yield case


@pytest.fixture(autouse=True)
def _fresh_dataset_pool() -> Iterator[None]:
    """Each test starts without datasets a previous one left open (a loopback server of
    an earlier test may have had the same port and paths)."""
    yield
    import sys

    pool = sys.modules.get("exports.stac.dataset_pool")
    if pool is not None:
        pool.dataset_pool().clear()
