"""A fast static FHIR upstream: canned JSON documents over a minimal asyncio HTTP/1.1 keep-alive server."""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import ssl
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

BASE_PATH = "/fhir"
CONTENT_TYPE = "application/fhir+json;charset=utf-8"
PATIENT_FILE = "patient.json"
SEARCH_FILE = "search-10.json"
BATCH_FILE = "batch-response.json"
BUNDLE_FILE = "bundle-large.json"
NOT_FOUND_FILE = "not-found.json"
METADATA_FILE = "metadata.json"
DOCUMENT_FILES = (PATIENT_FILE, SEARCH_FILE, BATCH_FILE, BUNDLE_FILE, NOT_FOUND_FILE, METADATA_FILE)
DEFAULT_BUNDLE_ENTRIES = 1000
# About 5 KB per Observation (a narrative like a real server's), so 1,000 entries make a ~5 MB Bundle.
NARRATIVE_PARAGRAPHS = 21
MAX_HEADER_BYTES = 64 * 1024


def _patient(patient_id: str, family: str, given: str) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": patient_id,
        "meta": {"versionId": "3", "lastUpdated": "2026-10-01T09:30:00.000+00:00"},
        "text": {"status": "generated", "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{given} {family}</div>'},
        "identifier": [
            {
                "use": "usual",
                "type": {"coding": [{"system": "http://hl7.org/fhir/v2/0203", "code": "MR"}]},
                "system": "urn:oid:1.2.36.146.595.217.0.1",
                "value": f"MRN-{patient_id}",
            },
        ],
        "active": True,
        "name": [{"use": "official", "family": family, "given": [given, "Q."]}],
        "telecom": [
            {"system": "phone", "value": "(03) 5555 6473", "use": "work"},
            {"system": "email", "value": f"{given.lower()}.{family.lower()}@example.org"},
        ],
        "gender": "female",
        "birthDate": "1974-12-25",
        "address": [
            {
                "use": "home",
                "line": ["534 Erewhon St"],
                "city": "PleasantVille",
                "state": "Vic",
                "postalCode": "3999",
                "country": "AU",
            }
        ],
        "maritalStatus": {"coding": [{"system": "http://hl7.org/fhir/v3/MaritalStatus", "code": "M"}]},
    }


def _bundle(
    base: str, kind: str, entries: list[dict[str, Any]], self_link: str, next_link: str | None, total: int
) -> dict[str, Any]:
    links = [{"relation": "self", "url": self_link}]
    if next_link:
        links.append({"relation": "next", "url": next_link})
    return {
        "resourceType": "Bundle",
        "id": f"bench-{kind}",
        "meta": {"lastUpdated": "2026-10-01T09:30:00Z"},
        "type": kind,
        "total": total,
        "link": links,
        "entry": entries,
    }


def search_bundle(base: str, count: int = 10) -> dict[str, Any]:
    """A searchset of `count` Patients with provider-base `self`/`next` links and fullUrls."""
    entries = [
        {
            "fullUrl": f"{base}/Patient/bench-{n}",
            "resource": _patient(f"bench-{n}", "Smith", f"Jo{n}"),
            "search": {"mode": "match"},
        }
        for n in range(count)
    ]
    return _bundle(
        base,
        "searchset",
        entries,
        f"{base}/Patient?family=smith&_count={count}",
        f"{base}?_getpages=bench-page&_getpagesoffset={count}&_count={count}&_bundletype=searchset",
        count * 3,
    )


def _observation(base: str, n: int) -> dict[str, Any]:
    paragraph = (
        "Systolic and diastolic pressure measured seated after five minutes of rest, left arm, "
        "adult cuff; the reading is within the expected range for this patient's history. "
    )
    narrative = "".join(f"<p>{n}: {paragraph}</p>" for _ in range(NARRATIVE_PARAGRAPHS))
    return {
        "resourceType": "Observation",
        "id": f"bp-{n}",
        "meta": {"versionId": "1", "lastUpdated": "2026-10-01T09:30:00Z"},
        "text": {"status": "generated", "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{narrative}</div>'},
        "status": "final",
        "category": [{"coding": [{"system": "http://hl7.org/fhir/observation-category", "code": "vital-signs"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9", "display": "Blood pressure"}]},
        "subject": {"reference": f"{base}/Patient/bench-1"},
        "effectiveDateTime": f"2026-{1 + n % 12:02d}-{1 + n % 28:02d}T10:00:00Z",
        "performer": [{"reference": f"{base}/Practitioner/pr-{n % 7}"}],
        "component": [
            {
                "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6", "display": "Systolic"}]},
                "valueQuantity": {
                    "value": 107 + n % 20,
                    "unit": "mmHg",
                    "system": "http://unitsofmeasure.org",
                    "code": "mm[Hg]",
                },
            },
            {
                "code": {"coding": [{"system": "http://loinc.org", "code": "8462-4", "display": "Diastolic"}]},
                "valueQuantity": {
                    "value": 60 + n % 15,
                    "unit": "mmHg",
                    "system": "http://unitsofmeasure.org",
                    "code": "mm[Hg]",
                },
            },
        ],
    }


def large_bundle(base: str, entries: int = DEFAULT_BUNDLE_ENTRIES) -> dict[str, Any]:
    """A searchset of `entries` Observations (~5 KB each) with provider-base fullUrls and references."""
    items = [
        {"fullUrl": f"{base}/Observation/bp-{n}", "resource": _observation(base, n), "search": {"mode": "match"}}
        for n in range(entries)
    ]
    return _bundle(base, "searchset", items, f"{base}/Observation?patient=bench-1&_count={entries}", None, entries)


def batch_response(base: str) -> dict[str, Any]:
    """The batch-response to the benchmark's 5-request batch: 3 reads and 2 small searches."""
    entries: list[dict[str, Any]] = []
    for n in range(3):
        entries.append(
            {
                "fullUrl": f"{base}/Patient/bench-{n}",
                "resource": _patient(f"bench-{n}", "Lee", f"Al{n}"),
                "response": {"status": "200 OK", "location": f"{base}/Patient/bench-{n}/_history/3"},
            }
        )
    entries += [{"resource": search_bundle(base, 2), "response": {"status": "200 OK"}} for _ in range(2)]
    return {"resourceType": "Bundle", "id": "bench-batch", "type": "batch-response", "entry": entries}


def batch_request() -> dict[str, Any]:
    """The 5-request batch the benchmark sends (all GETs, so the gateway forwards it)."""
    urls = [
        "Patient/bench-0",
        "Patient/bench-1",
        "Patient/bench-2",
        "Patient?family=smith&_count=2",
        "Patient?given=jo&_count=2",
    ]
    return {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [{"request": {"method": "GET", "url": url}} for url in urls],
    }


def capability_statement(base: str) -> dict[str, Any]:
    """What the gateway reads from the provider (batch support, search parameters) before it adapts requests."""

    def resource(kind: str, params: tuple[str, ...]) -> dict[str, Any]:
        return {
            "type": kind,
            "interaction": [{"code": "read"}, {"code": "search-type"}],
            "searchParam": [{"name": name, "type": "string"} for name in params],
        }

    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-10-01",
        "kind": "instance",
        "fhirVersion": "3.0.2",
        "format": ["json"],
        "implementation": {"description": "bench", "url": base},
        "rest": [
            {
                "mode": "server",
                "interaction": [{"code": "batch"}, {"code": "search-system"}],
                "resource": [
                    resource("Patient", ("_id", "identifier", "name", "family", "given", "birthdate")),
                    resource("Observation", ("_id", "patient", "subject", "code", "date")),
                ],
            }
        ],
    }


def not_found() -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "not-found", "diagnostics": "no canned answer"}],
    }


def _encode(document: dict[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def write_documents(directory: Path, base_url: str, bundle_entries: int = DEFAULT_BUNDLE_ENTRIES) -> dict[str, int]:
    """Writes every canned document for an upstream at `base_url`; returns their sizes in bytes."""
    base = base_url.rstrip("/")
    documents = {
        PATIENT_FILE: _patient("bench-1", "Smith", "Jo"),
        SEARCH_FILE: search_bundle(base),
        BATCH_FILE: batch_response(base),
        BUNDLE_FILE: large_bundle(base, bundle_entries),
        NOT_FOUND_FILE: not_found(),
        METADATA_FILE: capability_statement(base),
    }
    directory.mkdir(parents=True, exist_ok=True)
    sizes: dict[str, int] = {}
    for name, document in documents.items():
        data = _encode(document)
        (directory / name).write_bytes(data)
        sizes[name] = len(data)
    return sizes


def route(method: str, path: str, base_path: str = BASE_PATH) -> tuple[int, str]:
    """(status, file) the upstream answers for a request path (query ignored) — nginx.py mirrors this map."""
    path = path.split("?", 1)[0].rstrip("/")
    if method in ("GET", "HEAD"):
        if path == f"{base_path}/Patient":
            return 200, SEARCH_FILE
        if path.startswith(f"{base_path}/Patient/"):
            return 200, PATIENT_FILE
        if path == f"{base_path}/Observation":
            return 200, BUNDLE_FILE
        if path == f"{base_path}/metadata":
            return 200, METADATA_FILE
    if method == "POST" and path == base_path:
        return 200, BATCH_FILE
    return 404, NOT_FOUND_FILE


@dataclass(frozen=True)
class CannedResponses:
    """Complete HTTP responses (status line, headers, body) per file, built once."""

    responses: dict[tuple[int, str], bytes]
    base_path: str

    @classmethod
    def load(
        cls,
        directory: Path,
        base_path: str = BASE_PATH,
        files: tuple[str, ...] = DOCUMENT_FILES,
        rebase: tuple[bytes, bytes] | None = None,
    ) -> CannedResponses:
        """The responses for `files`; `rebase` (written base, this server's base) rewrites the provider links."""
        responses: dict[tuple[int, str], bytes] = {}
        for name in files:
            body = (directory / name).read_bytes()
            if rebase is not None:
                body = body.replace(*rebase)
            for status, phrase in ((200, "OK"), (404, "Not Found")):
                head = (
                    f"HTTP/1.1 {status} {phrase}\r\nContent-Type: {CONTENT_TYPE}\r\nContent-Length: {len(body)}\r\n\r\n"
                ).encode("ascii")
                responses[(status, name)] = head + body
        return cls(responses, base_path)

    def answer(self, method: str, target: str) -> bytes:
        return self.responses[route(method, target, self.base_path)]


class _Connection(asyncio.Protocol):
    """One keep-alive client connection: parse request heads, skip bodies, write canned responses."""

    def __init__(self, canned: CannedResponses) -> None:
        self._canned = canned
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        transport = self._transport
        while transport is not None:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buffer) > MAX_HEADER_BYTES:
                    transport.close()
                return
            head = bytes(self._buffer[:end]).decode("latin-1")
            lines = head.split("\r\n")
            parts = lines[0].split(" ")
            length = 0
            close = False
            for line in lines[1:]:
                name, _, value = line.partition(":")
                lowered = name.strip().lower()
                if lowered == "content-length":
                    length = int(value.strip() or 0)
                elif lowered == "connection" and value.strip().lower() == "close":
                    close = True
            if len(self._buffer) < end + 4 + length:
                return
            del self._buffer[: end + 4 + length]
            if len(parts) != 3:
                transport.close()
                return
            transport.write(self._canned.answer(parts[0], parts[1]))
            if close:
                transport.close()
                return


async def serve(directory: Path, host: str, port: int, base_path: str, ready: Callable[[int], None]) -> None:
    canned = CannedResponses.load(directory, base_path)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Connection(canned), host, port, backlog=1024, reuse_address=True)
    ready(server.sockets[0].getsockname()[1])
    async with server:
        await server.serve_forever()


async def serve_many(
    directory: Path,
    host: str,
    count: int,
    written_base: str,
    tls: ssl.SSLContext | None,
    ready: Callable[[list[int]], None],
) -> None:
    """`count` providers in one process, each on its own port with links to its own base (no large Bundle)."""
    loop = asyncio.get_running_loop()
    scheme = "https" if tls is not None else "http"
    small = tuple(name for name in DOCUMENT_FILES if name != BUNDLE_FILE)
    servers: list[asyncio.Server] = []
    for _ in range(count):
        probe = socket.socket()
        probe.bind((host, 0))
        port = probe.getsockname()[1]
        probe.close()
        own_base = f"{scheme}://{host}:{port}{urlsplit(written_base).path}"
        canned = CannedResponses.load(
            directory, urlsplit(written_base).path, small, (written_base.encode(), own_base.encode())
        )
        servers.append(
            await loop.create_server(
                lambda canned=canned: _Connection(canned), host, port, backlog=256, reuse_address=True, ssl=tls
            )
        )
    ready([server.sockets[0].getsockname()[1] for server in servers])
    await asyncio.gather(*(server.serve_forever() for server in servers))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.static_upstream", description=__doc__)
    parser.add_argument("--docs", type=Path, required=True, help="folder written by write_documents()")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--base-path", default=BASE_PATH)
    parser.add_argument("--many", type=int, default=0, help="serve this many providers, one per free port")
    parser.add_argument("--written-base", default="", help="with --many: the base URL the documents were written for")
    parser.add_argument("--tls-cert", type=Path, default=None, help="with --many: serve https with this certificate")
    parser.add_argument("--tls-key", type=Path, default=None)
    args = parser.parse_args(argv)

    def ready(port: int) -> None:
        print(f"listening {port}", flush=True)

    def ready_many(ports: list[int]) -> None:
        print("listening " + ",".join(map(str, ports)), flush=True)

    tls: ssl.SSLContext | None = None
    if args.tls_cert is not None:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(args.tls_cert, args.tls_key)
    try:
        if args.many:
            asyncio.run(serve_many(args.docs, args.host, args.many, args.written_base, tls, ready_many))
        else:
            asyncio.run(serve(args.docs, args.host, args.port, args.base_path, ready))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
