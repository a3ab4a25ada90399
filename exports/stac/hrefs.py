"""Which hrefs the stac source may open: a pure policy, no IO and no DNS.

Why: a catalog is data someone else wrote. Unchecked, an asset href ``../../etc/passwd``
is opened, and an item link or asset href to ``http://169.254.169.254/…`` (a cloud's
instance metadata) or to a service on the local network is fetched from this machine.

The rules (:meth:`HrefPolicy.refusal`):

- local hrefs (a path, ``file://``) must lie inside one of ``local_roots`` after ``..`` and
  symlinks are resolved: a static catalog's folder plus the folders of ``--asset-root``; a
  STAC API's items get no local root, so a local href from an API is always refused;
- remote hrefs must be ``http`` or ``https``; any other scheme (``s3://``, ``/vsicurl/``
  paths, ``ftp://``) is refused;
- link-local and cloud metadata addresses (169.254.0.0/16, fe80::/10, fd00:ec2::254,
  ``metadata.google.internal``…) are always refused, even when allowed explicitly;
- a host in ``hosts`` is allowed (``--allow-hosts``, the STAC API's own host and port, the
  asset bucket of Earth Search): ``host`` for any port, ``host:port`` for one;
- any other host is allowed only over ``https`` and only when it is a public name or
  address: not a loopback, private, reserved or link-local IP, not ``localhost``, not a
  name without a dot, not ``*.local`` / ``*.internal`` / ``*.localhost`` / ``*.home.arpa``.

Names are not resolved (that would be IO, and the reader resolves them again anyway): a
public name that points at a private address is not detected; allow-list the hosts
(``--allow-hosts``) and run behind a firewall where that matters.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

ASSET_ROOT_FLAG = "--asset-root DIR"
ALLOW_HOSTS_FLAG = "--allow-hosts"
EARTH_SEARCH_ASSET_HOSTS = ("sentinel-cogs.s3.us-west-2.amazonaws.com",)
NEVER_NETWORKS = tuple(ipaddress.ip_network(n) for n in (
    "169.254.0.0/16", "fe80::/10", "fd00:ec2::254/128"))
METADATA_NAMES = frozenset({"metadata", "metadata.google.internal", "instance-data"})
PRIVATE_SUFFIXES = (".localhost", ".local", ".internal", ".home.arpa", ".lan")
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class HostEntry:
    """One allowed host: a lower-case name or address, and a port (None: any port)."""

    host: str
    port: int | None = None

    def matches(self, host: str, port: int) -> bool:
        """Whether a URL's host and port are this entry."""
        return self.host == host and self.port in (None, port)


def parse_host(text: str) -> HostEntry:
    """``host``, ``host:port``, ``[v6]:port`` or a URL: the entry; ValueError if none."""
    value = text.strip()
    parts = urlsplit(value if "://" in value else f"//{value}")
    host = normal_host(parts.hostname or "")
    if not host or ("://" not in value and parts.path):
        raise ValueError(f"{text!r} is not a host name or address (e.g. example.org:8080)")
    try:
        port = parts.port
    except ValueError as e:
        raise ValueError(f"{text!r}: the port is no number from 0 to 65535") from e
    if "://" in value and port is None:
        port = _DEFAULT_PORTS.get(parts.scheme.lower())
    if never_allowed(host):
        raise ValueError(f"{text!r} is a link-local or cloud metadata address, never allowed")
    return HostEntry(host, port)


def normal_host(host: str) -> str:
    """Lower case, no trailing dot, no brackets around an IPv6 address."""
    return host.strip("[]").rstrip(".").lower()


def literal_address(host: str) -> IpAddress | None:
    """The IP address ``host`` spells, including the forms curl accepts (``2852039166``,
    ``0xa9.0xfe.0xa9.0xfe``, ``127.1``), or None for a name."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        if not host or any(c not in "0123456789abcdefx." for c in host) \
                or not host[0].isdigit():
            return None
        try:
            address = ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped if mapped is not None else address


def never_allowed(host: str) -> bool:
    """Link-local and metadata addresses: an allow-list cannot open them."""
    if host in METADATA_NAMES:
        return True
    address = literal_address(host)
    return address is not None and any(address in net for net in NEVER_NETWORKS)


def is_public_host(host: str) -> bool:
    """A global IP address, or a dotted name that is no local or intranet name."""
    address = literal_address(host)
    if address is not None:
        return address.is_global and not address.is_multicast
    return "." in host and host != "localhost" and not host.endswith(PRIVATE_SUFFIXES)


@dataclass(frozen=True)
class HrefPolicy:
    """Where hrefs may point; :meth:`refusal` says why one may not be opened."""

    local_roots: tuple[Path, ...] = ()  # resolved folders; empty: no local href at all
    hosts: tuple[HostEntry, ...] = ()

    @classmethod
    def build(cls, local_roots: Iterable[Path] = (), hosts: Iterable[str] = ()) -> HrefPolicy:
        """From folders and host texts (see :func:`parse_host`)."""
        roots = tuple(dict.fromkeys(Path(r).expanduser().resolve() for r in local_roots))
        return cls(roots, tuple(dict.fromkeys(parse_host(h) for h in hosts)))

    def refusal(self, href: str) -> str | None:
        """Why ``href`` may not be opened (ending with the flag that allows it), or None."""
        parts = urlsplit(href)
        scheme = parts.scheme.lower()
        if scheme in _DEFAULT_PORTS:
            return self._remote_refusal(href, scheme)
        if scheme in ("", "file"):
            return self._local_refusal(unquote(parts.path) if scheme == "file" else href)
        return (f"the {scheme}:// scheme is not read (only http(s) URLs and files inside "
                "the catalog folder)")

    def _local_refusal(self, path: str) -> str | None:
        if not self.local_roots:
            return "a local file, not an http(s) URL (a STAC API's assets must be URLs)"
        target = Path(os.path.abspath(path)).resolve()
        if any(target == root or root in target.parents for root in self.local_roots):
            return None
        where = ", ".join(str(r) for r in self.local_roots)
        return (f"outside the catalog folder ({where}); allow a folder with "
                f"{ASSET_ROOT_FLAG}")

    def _remote_refusal(self, href: str, scheme: str) -> str | None:
        parts = urlsplit(href)
        host = normal_host(parts.hostname or "")
        if not host:
            return "a URL without a host"
        try:
            port = parts.port or _DEFAULT_PORTS[scheme]
        except ValueError:
            return "a URL with an invalid port"
        if never_allowed(host):
            return f"{host} is a link-local or cloud metadata address, never read"
        if any(entry.matches(host, port) for entry in self.hosts):
            return None
        if scheme == "https" and is_public_host(host):
            return None
        why = "plain http" if is_public_host(host) else "a local or private address"
        shown = f"[{host}]" if ":" in host else host
        return (f"host {shown}:{port} is not allowed ({why}); allow it with "
                f"{ALLOW_HOSTS_FLAG} {shown}:{port}")
