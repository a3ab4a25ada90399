"""The href policy of the stac source (exports/stac/hrefs.py): pure, no IO, no DNS."""

from __future__ import annotations

from pathlib import Path

import pytest

from exports.stac.hrefs import HostEntry, HrefPolicy, literal_address, parse_host


@pytest.fixture
def catalog(tmp_path: Path) -> HrefPolicy:
    (tmp_path / "cat" / "items").mkdir(parents=True)
    return HrefPolicy.build([tmp_path / "cat"])


def test_local_hrefs_must_stay_in_the_catalog_folder(catalog: HrefPolicy) -> None:
    root = catalog.local_roots[0]
    assert catalog.refusal(str(root / "items" / "B04.tif")) is None
    assert catalog.refusal(f"file://{root}/items/B04.tif") is None
    for bad in (str(root / "items" / ".." / ".." / "etc" / "passwd"), "/etc/passwd",
                "file:///etc/passwd", "/vsicurl/http://127.0.0.1/x.tif"):
        why = catalog.refusal(bad)
        assert why is not None and "outside the catalog folder" in why
        assert "--asset-root DIR" in why


def test_a_symlink_out_of_the_catalog_is_outside(catalog: HrefPolicy, tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    (catalog.local_roots[0] / "link").symlink_to(tmp_path / "elsewhere")
    assert catalog.refusal(str(catalog.local_roots[0] / "link" / "B04.tif")) is not None
    more = HrefPolicy.build([*catalog.local_roots, tmp_path / "elsewhere"])
    assert more.refusal(str(catalog.local_roots[0] / "link" / "B04.tif")) is None


def test_an_api_policy_refuses_every_local_href() -> None:
    why = HrefPolicy.build(hosts=["example.org"]).refusal("/data/B04.tif")
    assert why is not None and "not an http(s) URL" in why


@pytest.mark.parametrize("href", [
    "http://169.254.169.254/latest/meta-data/", "https://169.254.169.254/",
    "http://[fd00:ec2::254]/", "http://[fe80::1]/", "http://2852039166/",
    "http://0xa9.0xfe.0xa9.0xfe/", "http://[::ffff:169.254.169.254]/",
    "http://metadata.google.internal/computeMetadata/v1/", "https://metadata/",
])
def test_metadata_addresses_are_never_read(href: str) -> None:
    policy = HrefPolicy.build(hosts=["127.0.0.1", "metadata.example.org"])
    why = policy.refusal(href)
    assert why is not None and "never read" in why


@pytest.mark.parametrize("entry", ["169.254.169.254", "[fd00:ec2::254]:80",
                                   "metadata.google.internal"])
def test_metadata_addresses_cannot_be_allowed(entry: str) -> None:
    with pytest.raises(ValueError, match="never allowed"):
        parse_host(entry)


@pytest.mark.parametrize("href", [
    "http://127.0.0.1:8080/x.tif", "https://127.0.0.1/x.tif", "https://127.1/x.tif",
    "https://localhost/x.tif", "https://10.0.0.5/x.tif", "https://[::1]/x.tif",
    "https://intranet/x.tif", "https://nas.local/x.tif", "http://example.org/x.tif",
])
def test_loopback_private_and_plain_http_are_refused_by_default(href: str) -> None:
    why = HrefPolicy().refusal(href)
    assert why is not None and "--allow-hosts" in why


def test_public_https_is_read_by_default() -> None:
    policy = HrefPolicy()
    assert policy.refusal("https://sentinel-cogs.s3.us-west-2.amazonaws.com/a/B04.tif") is None
    assert policy.refusal("https://8.8.8.8/x.tif") is None


def test_other_schemes_are_refused() -> None:
    for href in ("s3://bucket/B04.tif", "ftp://example.org/B04.tif", "gs://b/x.tif"):
        why = HrefPolicy.build(hosts=["bucket"]).refusal(href)
        assert why is not None and "scheme is not read" in why


def test_an_allow_list_permits_loopback_by_host_or_host_and_port() -> None:
    by_port = HrefPolicy.build(hosts=["127.0.0.1:8080"])
    assert by_port.refusal("http://127.0.0.1:8080/x.tif") is None
    why = by_port.refusal("http://127.0.0.1:9090/x.tif")
    assert why is not None and "--allow-hosts 127.0.0.1:9090" in why
    any_port = HrefPolicy.build(hosts=["127.0.0.1"])
    assert any_port.refusal("http://127.0.0.1:9090/x.tif") is None
    assert HrefPolicy.build(hosts=["Example.ORG."]).refusal("http://example.org/x") is None


def test_parse_host_forms() -> None:
    assert parse_host("example.org") == HostEntry("example.org")
    assert parse_host("example.org:8080") == HostEntry("example.org", 8080)
    assert parse_host("[::1]:80") == HostEntry("::1", 80)
    assert parse_host("http://127.0.0.1:5000") == HostEntry("127.0.0.1", 5000)
    assert parse_host("https://example.org") == HostEntry("example.org", 443)
    for bad in ("", "example.org/path", "host:notaport"):
        with pytest.raises(ValueError):
            parse_host(bad)


def test_literal_address_reads_the_forms_curl_accepts() -> None:
    assert str(literal_address("2852039166")) == "169.254.169.254"
    assert str(literal_address("127.1")) == "127.0.0.1"
    assert literal_address("1e.de") is None and literal_address("example.org") is None
