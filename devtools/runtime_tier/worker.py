"""The worker process: Azure's Python worker library (azure-functions-runtime-v1) behind a gRPC client.

On Azure, Python 3.13+ apps run in two layers: a small "proxy worker" that the Functions host image ships (it is
not published on PyPI) connects to the host's gRPC stream and hands every request to the worker library that the
app pins in requirements.txt. This module is only that thin first layer, written from the protocol: it opens the
host's `EventStream`, sends `StartStream`, and passes each `WorkerInitRequest`, `FunctionsMetadataRequest`,
`FunctionLoadRequest` and `InvocationRequest` to the library's own handlers, streaming their answers back. Function
loading, binding conversion, `func.HttpRequest`/`HttpResponse` and the invocation itself are the library's.

Run as `python -m devtools.runtime_tier.worker --host H --port P --workerId W --requestId R` (the host's arguments),
with the function app directory on sys.path as Azure puts /home/site/wwwroot there.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import queue
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import grpc

from devtools.runtime_tier import protos as protos_loader

_STOP = object()


@dataclass
class LibraryRequest:
    """What the library's handlers take: the streaming message and the proxy's properties."""

    name: str
    request: Any
    properties: dict[str, Any] = field(default_factory=dict)


_HANDLERS = {
    "worker_init_request": ("worker_init_request", "worker_init_response"),
    "functions_metadata_request": ("functions_metadata_request", "function_metadata_response"),
    "function_load_request": ("function_load_request", "function_load_response"),
    "invocation_request": ("invocation_request", "invocation_response"),
    "function_environment_reload_request": (
        "function_environment_reload_request",
        "function_environment_reload_response",
    ),
}


class Worker:
    def __init__(self, host: str, port: int, worker_id: str, request_id: str) -> None:
        self.protos = protos_loader.load()
        self.address = f"{host}:{port}"
        self.host = host
        self.worker_id = worker_id
        self.request_id = request_id
        self.outgoing: queue.Queue[Any] = queue.Queue()
        self.loop = asyncio.new_event_loop()

    def _outgoing_messages(self) -> Iterator[Any]:
        while True:
            message = self.outgoing.get()
            if message is _STOP:
                return
            yield message

    async def _answer(self, message: Any) -> None:
        import azure_functions_runtime_v1 as library

        kind = message.WhichOneof("content")
        if kind == "worker_status_request":
            answer = self.protos.StreamingMessage(
                request_id=message.request_id, worker_status_response=self.protos.WorkerStatusResponse()
            )
            self.outgoing.put(answer)
            return
        if kind not in _HANDLERS:
            logging.getLogger(__name__).warning("worker stand-in: no handler for %s", kind)
            return
        handler_name, response_field = _HANDLERS[kind]
        properties = {"protos": self.protos, "host": self.host}
        response = await getattr(library, handler_name)(LibraryRequest(kind, message, properties))
        if kind == "worker_init_request" and hasattr(library, "start_threadpool_executor"):
            # As the proxy worker does after init: the pool that runs sync functions, sized by
            # PYTHON_THREADPOOL_THREAD_COUNT (the library's default otherwise).
            library.start_threadpool_executor()
        self.outgoing.put(self.protos.StreamingMessage(request_id=self.request_id, **{response_field: response}))

    def run(self) -> None:
        channel = grpc.insecure_channel(self.address)
        grpc.channel_ready_future(channel).result(timeout=30)
        stub = self.protos.FunctionRpcStub(channel)
        self.outgoing.put(
            self.protos.StreamingMessage(
                request_id=self.request_id, start_stream=self.protos.StartStream(worker_id=self.worker_id)
            )
        )
        loop_thread = threading.Thread(target=self.loop.run_forever, name="worker-loop", daemon=True)
        loop_thread.start()
        try:
            for message in stub.EventStream(self._outgoing_messages()):
                asyncio.run_coroutine_threadsafe(self._answer(message), self.loop)
        except grpc.RpcError:
            pass  # the host closed the stream: the worker ends, as Azure's does
        finally:
            self.outgoing.put(_STOP)
            self.loop.call_soon_threadsafe(self.loop.stop)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="worker stand-in around azure-functions-runtime-v1")
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workerId", dest="worker_id", required=True)
    parser.add_argument("--requestId", dest="request_id", required=True)
    parser.add_argument("--app-root", dest="app_root", default=os.getcwd())
    args = parser.parse_args(argv)
    if args.app_root not in sys.path:
        sys.path.insert(0, args.app_root)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    Worker(args.host, args.port, args.worker_id, args.request_id).run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
