"""Which hosts the gateway may call: provider FHIR servers, token endpoints and client JWKS URLs.

An operator or a client names these URLs, so each is checked before the gateway sends anything there, on
the URL's literal host and on every address its name resolves to. Link-local and cloud-metadata addresses
(169.254.0.0/16, fe80::/10, fd00:ec2::254, ...) are never allowed: they hand out the platform's own
credentials. Loopback, private and other non-global addresses are allowed only where the
OUTBOUND_ALLOW_PRIVATE_ADDRESSES setting says so (local development and tests).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Iterable[str]]

# Instance metadata and platform endpoints that are not in a link-local range (AWS's IPv6 IMDS, Azure's
# wire server, Oracle's and Alibaba's metadata services).
_METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("fd00:ec2::254", "168.63.129.16", "192.0.0.192", "100.100.100.200")
)


class OutboundAddressRefused(Exception):
    """The URL may not be called; the message says why in words safe to show the operator who entered it."""


def _resolve(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise OutboundAddressRefused(f"the host name {host} does not resolve") from None
    return [str(info[4][0]) for info in infos]


def _unmapped(address: IpAddress) -> IpAddress:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def address_refusal(address: IpAddress, *, allow_private: bool) -> str | None:
    """Why the gateway may not connect to `address`, or None when it may."""
    address = _unmapped(address)
    if address.is_link_local or address in _METADATA_ADDRESSES:
        return "link-local and cloud-metadata addresses are never allowed"
    if address.is_multicast or address.is_unspecified or address.is_reserved:
        return "the address is not a unicast host address"
    if not address.is_global and not allow_private:
        return "loopback and private addresses are allowed only for local development"
    return None


def check_outbound_url(url: str, *, allow_private: bool, resolve: Resolver = _resolve) -> None:
    """Raise OutboundAddressRefused unless `url` is http(s) and every address of its host may be called.

    Plain http is accepted only where private addresses are (local development); in Azure every outbound
    URL must be https.
    """
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise OutboundAddressRefused("the URL is malformed") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise OutboundAddressRefused("the URL must be an absolute https URL")
    if parts.scheme == "http" and not allow_private:
        raise OutboundAddressRefused("the URL must use https")
    if parts.username is not None or parts.password is not None:
        raise OutboundAddressRefused("the URL must not carry a user name or password")
    host = parts.hostname
    try:
        addresses: list[str] = [str(ipaddress.ip_address(host))]
    except ValueError:
        addresses = list(resolve(host, port))
    if not addresses:
        raise OutboundAddressRefused(f"the host name {host} does not resolve")
    for text in addresses:
        refusal = address_refusal(ipaddress.ip_address(text.split("%", 1)[0]), allow_private=allow_private)
        if refusal:
            raise OutboundAddressRefused(refusal)


# Stands in for what a host name resolves to when only the URL's literal parts are judged: any global address.
_SOME_GLOBAL_ADDRESS = "1.1.1.1"


def literal_address_refusal(url: str, *, allow_private: bool) -> str | None:
    """Why `url` may not be called, judged without DNS (a stored entity is parsed on every cache load): the scheme,
    and the host when it is a literal IP address; None when nothing is wrong that far."""
    try:
        check_outbound_url(url, allow_private=allow_private, resolve=lambda host, port: [_SOME_GLOBAL_ADDRESS])
    except OutboundAddressRefused as refused:
        return str(refused)
    return None
