"""The one module that touches kmock: our API behind kmock's KubernetesEmulator.

Stock ``kmock.KubernetesEmulator`` (pinned: kmock==0.8) stores objects as merged dicts
with none of the apiserver's semantics (see shared/notes/local-cluster.md), and its
request parsing cannot even route ``/api/v1/namespaces`` (500) nor decode protobuf
bodies. So this subclass keeps kmock's serving plumbing (``kmock.Server``, the handler
life cycle entered with ``async with``, the Status rendering of unexpected errors) and
replaces request handling at the aiohttp entry point, delegating to :class:`.api.Api`.
kmock's own ``.objects`` and ``.requests`` therefore stay empty: read state via the API.

Pinned kmock internals used here (re-check them when upgrading kmock):

- ``RawHandler.__call__(raw_request)`` is the aiohttp entry point we override;
- ``KubernetesScaffold._render_error(exc)`` renders an exception as a 500 Status.
"""

from __future__ import annotations

import logging

import aiohttp.web
import kmock

from . import errors
from .api import Api
from .wire import Request, Response, StreamResponse

log = logging.getLogger(__name__)


def _warning_headers(response: aiohttp.web.StreamResponse, warnings: list[str]) -> None:
    for warning in warnings:
        escaped = warning.replace("\\", "\\\\").replace('"', '\\"')
        response.headers.add("Warning", f'299 - "{escaped}"')


def _json_response(result: Response) -> aiohttp.web.Response:
    headers = {"Content-Type": result.content_type}
    # A Status that asks the client to retry later says so in Retry-After too, as the
    # apiserver's ErrorNegotiated does (client-go retries 5xx answers that carry it).
    body = result.body
    if isinstance(body, dict) and body.get("kind") == "Status":
        retry = (body.get("details") or {}).get("retryAfterSeconds")
        if isinstance(retry, int) and retry > 0:
            headers["Retry-After"] = str(retry)
    response = aiohttp.web.Response(status=result.status, body=result.encoded(), headers=headers)
    _warning_headers(response, result.warnings)
    return response


MAX_REQUEST_BODY = 3 * 1024 * 1024  # the apiserver's MaxRequestBodyBytes


async def _read_body(raw: aiohttp.web.BaseRequest) -> bytes:
    """The body, up to the real server's 3 MiB (413 past it, as ``limitedReadBody`` does).

    Read from the stream rather than with ``raw.read()``, whose aiohttp limit
    (``client_max_size``, 1 MiB) would refuse bodies a real server accepts.
    """
    chunks: list[bytes] = []
    size = 0
    while chunk := await raw.content.readany():
        size += len(chunk)
        if size > MAX_REQUEST_BODY:
            raise errors.request_entity_too_large(MAX_REQUEST_BODY)
        chunks.append(chunk)
    return b"".join(chunks)


class Emulator(kmock.KubernetesEmulator):  # kmock ships no type hints: an Any base
    """A kmock KubernetesEmulator whose behaviour is that of :class:`.api.Api`."""

    def __init__(self, api: Api) -> None:
        super().__init__()
        self._api = api

    async def __call__(self, raw_request: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        try:
            body = await _read_body(raw_request)
            wire = Request(
                method=raw_request.method.upper(),
                path=raw_request.path,
                query=dict(raw_request.query),
                headers={str(k).lower(): str(v) for k, v in raw_request.headers.items()},
                body=body,
            )
            result = await self._api.handle(wire)
            if isinstance(result, Response):
                return _json_response(result)
            return await self._stream(raw_request, result)
        except errors.ApiError as exc:  # refused before the API saw it (the body's size)
            return _json_response(Response(exc.code, exc.status()))
        except Exception as exc:  # a bug in the emulator: answer 500 with a Status, like kmock
            log.exception("unexpected error serving %s %s", raw_request.method, raw_request.path)
            response: aiohttp.web.StreamResponse = await self._render_error(exc)
            return response

    @staticmethod
    async def _stream(
        raw: aiohttp.web.BaseRequest, result: StreamResponse
    ) -> aiohttp.web.StreamResponse:
        response = aiohttp.web.StreamResponse(
            status=result.status,
            headers={"Content-Type": result.content_type, "Cache-Control": "no-cache"},
        )
        _warning_headers(response, result.warnings)
        response.enable_chunked_encoding()
        prepared = False
        try:
            async for chunk in result.chunks:
                if not prepared:
                    await response.prepare(raw)
                    prepared = True
                if chunk:
                    await response.write(chunk)
        except errors.ApiError as exc:
            if not prepared:
                return _json_response(Response(exc.code, exc.status()))
            raise
        except (ConnectionResetError, aiohttp.ClientConnectionResetError):
            return response  # the client went away: nothing more to send
        if not prepared:
            await response.prepare(raw)
        await response.write_eof()
        return response
