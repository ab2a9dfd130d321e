"""A stand-in for the Functions host: serves the function folders over HTTP through the real Python worker.

It starts a gRPC server (the host's `FunctionRpc` service), launches the worker process against it, and walks the
host's start-up conversation: `StartStream` from the worker, `WorkerInitRequest`, `FunctionsMetadataRequest`
(the worker library asks for the host's default indexing, so the host reads every function.json itself), and one
`FunctionLoadRequest` per folder. Then it answers HTTP on loopback: each request is routed as the host routes,
converted to `RpcHttp` as the host converts it (rpc_http.py), sent as an `InvocationRequest`, and the
`InvocationResponse` written back as the host writes it.

Run in the tier's Python 3.13 environment as `python -m devtools.runtime_tier.host --root APP [--port 0]`; it
prints `READY http://127.0.0.1:PORT` once every folder has loaded, or `LOAD FAILED ...` and exits 1.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import grpc

from devtools.runtime_tier import protos as protos_loader
from devtools.runtime_tier.routes import FunctionFolder, read_function_folders, resolve, route_prefix
from devtools.runtime_tier.rpc_http import from_rpc_http, to_rpc_http

HOST_VERSION = "4.1037.0"  # the host release whose conversion code rpc_http.py follows
DEFAULT_BODY_LIMIT = 104_857_600  # FUNCTIONS_REQUEST_BODY_SIZE_LIMIT's default (100 MB)
_TIMEOUT = 60.0
_STOP = object()
_HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


class WorkerChannel:
    """The host's side of the worker's EventStream: outgoing messages, and answers matched to their requests."""

    def __init__(self, protos: Any) -> None:
        self.protos = protos
        self.outgoing: queue.Queue[Any] = queue.Queue()
        self.started = threading.Event()
        self._lock = threading.Lock()
        self._waiting: dict[tuple[str, str], futures.Future[Any]] = {}

    def expect(self, kind: str, key: str) -> futures.Future[Any]:
        future: futures.Future[Any] = futures.Future()
        with self._lock:
            self._waiting[(kind, key)] = future
        return future

    def send(self, **content: Any) -> None:
        self.outgoing.put(self.protos.StreamingMessage(request_id=str(uuid.uuid4()), **content))

    def received(self, message: Any) -> None:
        kind = message.WhichOneof("content")
        if kind == "start_stream":
            self.started.set()
            return
        if kind == "rpc_log":
            return
        payload = getattr(message, kind)
        key = {
            "function_load_response": lambda: payload.function_id,
            "invocation_response": lambda: payload.invocation_id,
        }.get(kind, lambda: "")()
        with self._lock:
            future = self._waiting.pop((kind, key), None)
        if future is not None:
            future.set_result(payload)

    def stop(self) -> None:
        self.outgoing.put(_STOP)


def servicer_for(channel: WorkerChannel) -> Any:
    protos = channel.protos

    class FunctionRpc(protos.FunctionRpcServicer):  # type: ignore[misc, name-defined]
        def EventStream(self, request_iterator: Iterator[Any], context: Any) -> Iterator[Any]:
            def read() -> None:
                for message in request_iterator:
                    channel.received(message)

            threading.Thread(target=read, name="host-reader", daemon=True).start()
            while True:
                message = channel.outgoing.get()
                if message is _STOP:
                    return
                yield message

    return FunctionRpc()


def _binding_info(protos: Any, binding: dict[str, Any]) -> Any:
    direction = {"in": 0, "out": 1, "inout": 2}[str(binding.get("direction", "in")).lower()]
    return protos.BindingInfo(type=str(binding["type"]), direction=direction)


class FunctionsHost:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.protos = protos_loader.load()
        self.channel = WorkerChannel(self.protos)
        self.folders = read_function_folders(root)
        self.prefix = route_prefix(root)
        self.function_ids: dict[str, str] = {}
        self.worker: subprocess.Popen[bytes] | None = None
        self.grpc_server: Any = None

    def start_worker(self) -> None:
        self.grpc_server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        self.protos.add_FunctionRpcServicer_to_server(servicer_for(self.channel), self.grpc_server)
        port = self.grpc_server.add_insecure_port("127.0.0.1:0")
        self.grpc_server.start()
        worker_id, request_id = str(uuid.uuid4()), str(uuid.uuid4())
        self.worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "devtools.runtime_tier.worker",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workerId",
                worker_id,
                "--requestId",
                request_id,
                "--app-root",
                str(self.root),
            ],
            cwd=str(Path(__file__).resolve().parent.parent.parent),
        )
        if not self.channel.started.wait(_TIMEOUT):
            raise RuntimeError("the worker never opened its stream (no StartStream)")

    def initialise(self) -> list[str]:
        """WorkerInit, metadata, one load per folder; the load failures (empty when every folder loaded)."""
        init = self.channel.expect("worker_init_response", "")
        self.channel.send(
            worker_init_request=self.protos.WorkerInitRequest(
                host_version=HOST_VERSION,
                worker_directory=str(self.root),
                function_app_directory=str(self.root),
            )
        )
        answer = init.result(_TIMEOUT)
        if answer.result.status != self.protos.StatusResult.Success:
            return [f"WorkerInitRequest: {answer.result.exception.message}"]
        metadata = self.channel.expect("function_metadata_response", "")
        self.channel.send(
            functions_metadata_request=self.protos.FunctionsMetadataRequest(function_app_directory=str(self.root))
        )
        if not metadata.result(_TIMEOUT).use_default_metadata_indexing:
            return ["the worker indexed the functions itself; the v1 model expects the host's function.json indexing"]
        failures = []
        for folder in self.folders:
            failure = self._load(folder)
            if failure:
                failures.append(failure)
        return failures

    def _load(self, folder: FunctionFolder) -> str | None:
        function_id = str(uuid.uuid4())
        pending = self.channel.expect("function_load_response", function_id)
        metadata = self.protos.RpcFunctionMetadata(
            name=folder.name,
            function_id=function_id,
            directory=str(folder.directory),
            script_file=str(folder.script_file),
            entry_point=folder.entry_point,
            language="python",
            raw_bindings=[json.dumps(b) for b in folder.bindings],
        )
        for binding in folder.bindings:
            metadata.bindings[str(binding["name"])].CopyFrom(_binding_info(self.protos, binding))
        self.channel.send(
            function_load_request=self.protos.FunctionLoadRequest(function_id=function_id, metadata=metadata)
        )
        answer = pending.result(_TIMEOUT)
        if answer.result.status != self.protos.StatusResult.Success:
            return f"{folder.name}: {answer.result.exception.message}"
        self.function_ids[folder.name] = function_id
        return None

    def invoke(self, folder: FunctionFolder, rpc_http: Any) -> Any | None:
        """The returned RpcHttp, or None when the invocation failed (the host answers 500)."""
        invocation_id = str(uuid.uuid4())
        pending = self.channel.expect("invocation_response", invocation_id)
        self.channel.send(
            invocation_request=self.protos.InvocationRequest(
                invocation_id=invocation_id,
                function_id=self.function_ids[folder.name],
                input_data=[self.protos.ParameterBinding(name=folder.trigger_name, data=rpc_http)],
            )
        )
        answer = pending.result(_TIMEOUT)
        if answer.result.status != self.protos.StatusResult.Success:
            return None
        if answer.HasField("return_value"):
            return answer.return_value
        return next((b.data for b in answer.output_data if b.data.WhichOneof("data") == "http"), None)

    def stop(self) -> None:
        self.channel.stop()
        if self.grpc_server is not None:
            self.grpc_server.stop(grace=1)
        if self.worker is not None:
            self.worker.terminate()
            self.worker.wait(10)


def _read_chunked(stream: Any) -> None:
    """Reads a chunked body to its end; the host never hands it to the function (Content-Length is absent)."""
    while True:
        size = int(stream.readline().split(b";")[0].strip() or b"0", 16)
        if size == 0:
            while stream.readline() not in (b"\r\n", b"\n", b""):
                pass
            return
        stream.read(size + 2)


def handler_for(host: FunctionsHost) -> type[BaseHTTPRequestHandler]:
    body_limit = int(os.environ.get("FUNCTIONS_REQUEST_BODY_SIZE_LIMIT", DEFAULT_BODY_LIMIT))

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def version_string(self) -> str:
            return "Kestrel"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _empty(self, status: int) -> None:
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _serve(self) -> None:
            raw_path, _, query_string = self.path.partition("?")
            length = self.headers.get("Content-Length")
            body: bytes | None = None
            if length is not None:
                if int(length) > body_limit:
                    self.close_connection = True
                    self._empty(500)  # azure-functions-host#10519: the limit answers 500, empty
                    return
                body = self.rfile.read(int(length))
            elif "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                _read_chunked(self.rfile)
            resolved = resolve(host.folders, host.prefix, raw_path, self.command)
            if resolved is None:
                self._empty(404)
                return
            folder, values = resolved
            rpc_http = to_rpc_http(
                host.protos,
                method=self.command,
                host=self.headers.get("Host", ""),
                raw_path=raw_path,
                query_string=query_string,
                headers=list(self.headers.items()),
                body=body,
                route_values=values,
            )
            returned = host.invoke(folder, rpc_http)
            if returned is None:
                self._empty(500)
                return
            status, headers, payload = from_rpc_http(host.protos, returned, head=self.command == "HEAD")
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.end_headers()
            if payload:
                self.wfile.write(payload)

    for method in _HTTP_METHODS:
        setattr(Handler, f"do_{method}", Handler._serve)
    return Handler


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="Functions host stand-in driving the real Python worker")
    parser.add_argument("--root", required=True, type=Path)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    host = FunctionsHost(args.root.resolve())
    try:
        host.start_worker()
        failures = host.initialise()
        if failures:
            print("LOAD FAILED " + " | ".join(failures), flush=True)
            return 1
        server = ThreadingHTTPServer(("127.0.0.1", args.port), handler_for(host))
        print(f"READY http://127.0.0.1:{server.server_address[1]} {len(host.function_ids)}", flush=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        sys.stdin.read()  # serves until the test closes stdin
        server.shutdown()
        return 0
    finally:
        host.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
