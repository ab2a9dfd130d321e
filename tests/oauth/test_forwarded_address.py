"""The per-address throttle's address: which X-Forwarded-For hop counts, behind Azure's front end and Front Door."""

from __future__ import annotations

import pytest

from shared import throttle

# What reaches the app: App Service's front end appends the address it saw (with a port); Front Door
# appends the client's address before that, without a port. Anything to the left may be forged.
DIRECT = {"x-forwarded-for": "6.6.6.6, 203.0.113.7:50123"}
FRONT_DOOR = {"x-forwarded-for": "6.6.6.6, 198.51.100.9, 147.243.12.4:443"}
FRONT_DOOR_IPV6 = {"x-forwarded-for": "6.6.6.6, 2001:db8::9, [2a01:111:2050::1]:443"}


@pytest.mark.parametrize(
    ("hops", "headers", "address"),
    [
        ("0", DIRECT, "203.0.113.7"),
        ("0", FRONT_DOOR, "147.243.12.4"),  # misconfigured: every caller would share Front Door's address
        ("1", FRONT_DOOR, "198.51.100.9"),
        ("1", FRONT_DOOR_IPV6, "2001:db8::9"),
        ("2", {"x-forwarded-for": "6.6.6.6, 192.0.2.1, 10.0.0.4, 147.243.12.4:443"}, "192.0.2.1"),
    ],
)
def test_the_address_is_the_hop_before_the_trusted_proxies(
    monkeypatch: pytest.MonkeyPatch, hops: str, headers: dict[str, str], address: str
) -> None:
    monkeypatch.setenv("THROTTLE_TRUSTED_PROXY_HOPS", hops)
    assert throttle.source_address(headers) == address


def test_a_chain_shorter_than_the_trusted_hops_is_not_taken_at_its_word(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THROTTLE_TRUSTED_PROXY_HOPS", "1")
    # A request that did not come through Front Door: its only hop is what the platform saw.
    assert throttle.source_address(DIRECT | {"x-forwarded-for": "203.0.113.7:50123"}) == "203.0.113.7"


def test_prepended_entries_never_change_the_address(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THROTTLE_TRUSTED_PROXY_HOPS", "1")
    forged = {"x-forwarded-for": "1.1.1.1, 2.2.2.2, 3.3.3.3, 198.51.100.9, 147.243.12.4:443"}
    assert throttle.source_address(forged) == "198.51.100.9"
