"""The HTTP app: /v1 routes, one error envelope, body-size limits, and MCP at /mcp."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import __version__
from ..errors import LoreError
from .auth import LOCAL_KEY, AccessKey, verify_key
from .errors import STATUS_CODES, classify, details, envelope
from .mcp import build_mcp, http_key_source, transport_security
from .models import HealthOut
from .routes import router
from .runtime import Runtime

log = logging.getLogger("lore.server")
LOOPBACK = ("127.0.0.1", "localhost", "::1")

DESCRIPTION = """\
Lore's evidence store over HTTP: add and ingest records, search them, build token-budgeted
context packs, expand handles, distil and list memories, forget records. Every /v1 route
needs an access key (`lore keys create`) sent as `Authorization: Bearer lore_...`, and sees
only the key's namespace. Every failure answers `{"error": {"code", "message", "details"}}`.
The MCP streamable HTTP transport is at /mcp, behind the same keys."""


@dataclass(frozen=True)
class Limits:
    """Request size limits, in bytes."""

    body: int = 4 * 2**20  # JSON bodies (a 1000-record batch of 4 KB texts fits)
    upload: int = 64 * 2**20  # /v1/ingest uploads


def error_response(
    status: int,
    code: str,
    message: str,
    extra: dict[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(envelope(code, message, extra), status_code=status, headers=headers)


def lore_error_response(exc: LoreError) -> JSONResponse:
    status, code = classify(exc)
    headers = {"WWW-Authenticate": 'Bearer realm="lore"'} if status == 401 else None
    return error_response(status, code, " ".join(str(exc).split()), details(exc), headers)


def install_error_handlers(app: FastAPI) -> None:
    """Every failure, expected or not, answers with the one envelope."""

    async def on_lore_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, LoreError)
        return lore_error_response(exc)

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", "")),
             "type": str(e.get("type", ""))}
            for e in exc.errors()
        ]
        first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
        where = ".".join(first["loc"])
        message = f"{where}: {first['msg']}" if where else str(first["msg"])
        return error_response(422, "invalid_request", message, {"errors": errors})

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        code = STATUS_CODES.get(exc.status_code, "http_error")
        return error_response(exc.status_code, code, str(exc.detail), None, exc.headers)

    async def on_crash(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(500, "internal", "internal server error; see the server log")

    app.add_exception_handler(LoreError, on_lore_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(HTTPException, on_http)
    app.add_exception_handler(Exception, on_crash)


class BodyLimit:
    """413 for bodies over the limit, whether declared (Content-Length) or streamed."""

    def __init__(self, app: ASGIApp, limits: Limits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limits.upload if scope["path"] == "/v1/ingest" else self.limits.body
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            response = error_response(413, "payload_too_large", f"body over {limit} bytes")
            await response(scope, receive, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise HTTPException(413, f"body over {limit} bytes")
            return message

        await self.app(scope, limited, send)


class McpGate:
    """Checks the bearer key of every /mcp request and hands it to the tools in the scope."""

    def __init__(self, app: ASGIApp, runtime: Runtime, auth: bool) -> None:
        self.app = app
        self.runtime = runtime
        self.auth = auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            key: AccessKey = LOCAL_KEY
            if self.auth:
                scheme, _, token = Headers(scope=scope).get("authorization", "").partition(" ")
                secret = token.strip() if scheme.lower() == "bearer" else None
                try:
                    key = await self.runtime.read(lambda lore: verify_key(lore.store, secret))
                except LoreError as exc:
                    await lore_error_response(exc)(scope, receive, send)
                    return
            scope["lore.key"] = key
        await self.app(scope, receive, send)


def create_app(
    runtime: Runtime, *, auth: bool = True, host: str = "127.0.0.1", limits: Limits | None = None
) -> FastAPI:
    """The FastAPI app over `runtime`; `auth=False` serves everything to anyone (loopback only)."""
    if not auth and host not in LOOPBACK:
        raise LoreError(
            f"--no-auth refuses to bind {host}: it would serve every namespace to anyone",
            hint="bind 127.0.0.1 (the default), or create a key with `lore keys create`",
        )
    limits = limits or Limits()
    mcp = build_mcp(runtime, http_key_source)
    mcp_app = mcp.streamable_http_app(
        streamable_http_path="/mcp",
        stateless_http=True,
        json_response=True,
        max_request_body_size=limits.body,
        transport_security=transport_security(host),
        host=host,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with mcp.session_manager.run():
            yield

    app = FastAPI(
        title="Lore",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.runtime = runtime
    app.state.auth = auth
    app.state.mcp = mcp

    @app.get("/healthz", response_model=HealthOut, summary="Liveness", tags=["health"])
    async def healthz() -> HealthOut:
        """Whether the server is up; needs no key."""
        return HealthOut(status="ok", version=__version__)

    app.include_router(router, tags=["v1"])
    app.router.routes.append(Route("/mcp", McpGate(mcp_app, runtime, auth)))
    install_error_handlers(app)
    app.add_middleware(BodyLimit, limits=limits)
    return app
