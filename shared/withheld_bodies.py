"""Request bodies the Functions host withholds: it passes a body to a function only when Content-Length was sent.

Azure's host copies the body into the worker's message only
`if (request.Body != null && request.ContentLength > 0)` (`ToRpcHttp` in Azure/azure-functions-host
`src/WebJobs.Script.Grpc/MessageExtensions/GrpcMessageConversionExtensions.cs`; azure-functions-host#4926),
so a body sent with `Transfer-Encoding: chunked` arrives empty. The gateway cannot get it back; it says so
instead of answering as if the client had sent nothing.
"""

from __future__ import annotations

from shared.http_messages import Headers

BODY_WITHHELD_MESSAGE = (
    "The request body was sent with Transfer-Encoding: chunked, which Azure Functions does not pass on; "
    "send it with a Content-Length header."
)


def body_withheld_by_host(headers: Headers, body: bytes) -> bool:
    """Whether the body is empty because the client sent it chunked (the host dropped it)."""
    if body:
        return False
    encoding = headers.get("transfer-encoding", "")
    return "chunked" in encoding.lower()
