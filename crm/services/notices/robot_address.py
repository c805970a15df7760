"""Where a team robot may be posted: https to a public host, unless the install allows others.

A robot's address is typed by an admin and fetched by the server, so it is a way into the
server's own network: a "test" to http://127.0.0.1:… reached local services and showed their
answer. An address must therefore be https, and every address that its host resolves to must
be public (not loopback, private, link-local, shared, multicast, reserved or unspecified).
The rule is checked when the channel is saved (refused by its field) and again at each
sending on the very address that is connected to, with no second look-up, so that a name
that resolves elsewhere by then (DNS rebinding) is refused too. The install setting
`webhook_private_hosts_allowed` lifts the rule: an intranet robot, or the tests' local receiver.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import urllib.parse
import urllib.request
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from crm.services.install import settings

SETTING = "webhook_private_hosts_allowed"
HTTPS_ONLY = _l("Enter a web address that starts with https://, as the robot shows it.")

AddressInfo = tuple[Any, ...]  # one row of socket.getaddrinfo


class Refused(Exception):
    """The address may not be posted to; the message says why, for a person."""


def others_allowed() -> bool:
    """Whether the install lets robots be posted to any host, over http too."""
    return bool(settings.get(SETTING))


def is_public(ip: str) -> bool:
    """Whether an IP address is on the public internet."""
    address = ipaddress.ip_address(ip.split("%", 1)[0])  # an IPv6 scope: fe80::1%eth0
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    # is_global leaves out loopback, private, link-local, shared (100.64/10) and reserved
    # ranges, but counts multicast as global.
    return address.is_global and not address.is_multicast


def public_addresses(host: str, port: int) -> list[AddressInfo]:
    """Resolve the host; raise Refused unless every address it has is public.

    Raises OSError (socket.gaierror) when the name cannot be resolved.
    """
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    for *_head, sockaddr in found:
        if not is_public(sockaddr[0]):
            raise Refused(
                _(
                    "%(host)s is not a public address (it leads to %(address)s): "
                    "a robot's address must be on the internet.",
                    host=host,
                    address=sockaddr[0],
                )
            )
    return found


def check_scheme(url: str) -> None:
    """Refuse an address that is not https (unless the install allows others)."""
    if urllib.parse.urlsplit(url).scheme.lower() != "https" and not others_allowed():
        raise Refused(str(HTTPS_ONLY))


def problem(url: str) -> str | None:
    """Why a well-formed web address may not be a robot's, for its field; None when it may.

    A name that cannot be resolved now is let through: it may be a passing DNS failure, and
    every sending checks the address again before it connects.
    """
    if others_allowed():
        return None
    parts = urllib.parse.urlsplit(url)
    try:
        check_scheme(url)
        public_addresses(parts.hostname or "", parts.port or 443)
    except Refused as refusal:
        return str(refusal)
    except (OSError, UnicodeError):
        return None
    return None


# --- connecting ---------------------------------------------------------------------------------


class _PublicHTTPSConnection(http.client.HTTPSConnection):
    """Connects only to a public address of its host: the one it checked, not a second look-up."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = self._connect_public

    def _connect_public(
        self, address: tuple[str, int], timeout: Any = None, source_address: Any = None
    ) -> socket.socket:
        host, port = address
        error: OSError | None = None
        for family, kind, proto, _name, sockaddr in public_addresses(host, port):
            sock = socket.socket(family, kind, proto)
            try:
                if timeout is not socket._GLOBAL_DEFAULT_TIMEOUT:  # type: ignore[attr-defined]
                    sock.settimeout(timeout)
                if source_address:
                    sock.bind(source_address)
                sock.connect(sockaddr)
                return sock
            except OSError as failed:
                sock.close()
                error = failed
        raise error or OSError(f"no address for {host}")


class PublicHTTPSHandler(urllib.request.HTTPSHandler):
    """urllib's https, through the connection above."""

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_PublicHTTPSConnection, req, context=self._context)
