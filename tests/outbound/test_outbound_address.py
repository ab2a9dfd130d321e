"""The outbound address policy: metadata and link-local addresses never, private ones only when allowed."""

from __future__ import annotations

import pytest

from shared.outbound.address_policy import OutboundAddressRefused, Resolver, check_outbound_url


def _resolves_to(*addresses: str) -> Resolver:
    return lambda host, port: list(addresses)


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "https://169.254.169.254/metadata/identity/oauth2/token",
        "https://[fd00:ec2::254]/latest/",
        "https://[fe80::1]/",
        "https://[::ffff:169.254.169.254]/",
        "https://168.63.129.16/machine",
        "https://0.0.0.0/",
    ],
)
def test_metadata_and_link_local_addresses_are_refused_even_when_private_ones_are_allowed(url: str) -> None:
    with pytest.raises(OutboundAddressRefused):
        check_outbound_url(url, allow_private=True)


@pytest.mark.parametrize(
    "url", ["https://127.0.0.1/fhir", "https://10.1.2.3/", "https://192.168.0.5/", "https://[::1]/", "http://x.test/"]
)
def test_loopback_private_and_plain_http_are_refused_in_production(url: str) -> None:
    with pytest.raises(OutboundAddressRefused):
        check_outbound_url(url, allow_private=False, resolve=_resolves_to("93.184.215.14"))


def test_loopback_is_allowed_for_local_development() -> None:
    check_outbound_url("http://127.0.0.1:8080/fhir", allow_private=True)


def test_a_name_that_resolves_to_a_metadata_address_is_refused() -> None:
    with pytest.raises(OutboundAddressRefused, match="metadata"):
        check_outbound_url("https://ehr.example.org/fhir", allow_private=True, resolve=_resolves_to("169.254.169.254"))


def test_a_name_with_one_private_address_among_public_ones_is_refused() -> None:
    with pytest.raises(OutboundAddressRefused):
        check_outbound_url(
            "https://ehr.example.org/", allow_private=False, resolve=_resolves_to("93.184.215.14", "10.0.0.7")
        )


def test_a_public_https_url_is_allowed() -> None:
    check_outbound_url("https://ehr.example.org/fhir/r4", allow_private=False, resolve=_resolves_to("93.184.215.14"))


@pytest.mark.parametrize("url", ["ftp://ehr.example.org/", "https://user:pw@ehr.example.org/", "https://[::1/", "fhir"])
def test_malformed_or_credentialed_urls_are_refused(url: str) -> None:
    with pytest.raises(OutboundAddressRefused):
        check_outbound_url(url, allow_private=True, resolve=_resolves_to("93.184.215.14"))
