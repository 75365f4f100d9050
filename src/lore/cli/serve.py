"""`lore serve` (HTTP API and MCP over HTTP) and `lore mcp` (MCP over stdio)."""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

import click

from ..engine import USE_DEFAULT
from ..errors import ConfigError
from .app import Settings, cli, emit_json, json_option, note

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _bind(host: str, port: int) -> socket.socket:
    """A listening socket, bound before the server starts so `--port 0` can be announced."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named explicitly: asyncio sets TCP_NODELAY on accepted sockets only then, and
    # without it Nagle's algorithm and delayed ACKs stall each keep-alive response by ~40 ms.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}",
                          hint="pick another --port, or stop what uses it") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=8765, show_default=True,
    help="Port to listen on (0: any free port, announced on start).",
)
@click.option(
    "--no-auth", is_flag=True,
    help="Serve every namespace without keys: local development only; refuses non-loopback hosts.",
)
@click.option(
    "--readers", type=click.IntRange(1, 64), default=4, show_default=True,
    help="Reader threads, each with its own database connection.",
)
@click.option(
    "--max-body-mb", type=click.IntRange(1, 1024), default=4, show_default=True,
    help="Largest JSON request body, in MiB (larger: 413).",
)
@click.option(
    "--max-upload-mb", type=click.IntRange(1, 4096), default=64, show_default=True,
    help="Largest /v1/ingest upload, in MiB (larger: 413).",
)
@json_option
@click.pass_obj
def serve(
    settings: Settings, host: str, port: int, no_auth: bool, readers: int, max_body_mb: int,
    max_upload_mb: int, as_json: bool,
) -> None:
    """Serve the HTTP API (/v1, OpenAPI at /openapi.json, docs at /docs) and MCP over
    streamable HTTP (/mcp) until interrupted. Every request needs a key from `lore keys
    create` and sees only that key's namespace."""
    import uvicorn

    from ..server.auth import list_keys
    from ..server.http import Limits, create_app
    from ..server.runtime import Runtime

    if no_auth and host not in LOOPBACK:
        raise ConfigError(
            f"--no-auth refuses to bind {host}: it would serve every namespace to anyone",
            hint="bind 127.0.0.1 (the default), or drop --no-auth and use `lore keys create`",
        )
    runtime = Runtime(settings.db, embedder=settings.embedder or USE_DEFAULT, readers=readers)
    try:
        limits = Limits(body=max_body_mb * 2**20, upload=max_upload_mb * 2**20)
        app = create_app(runtime, auth=not no_auth, host=host, limits=limits)
        sock = _bind(host, port)
        bound = sock.getsockname()[1]
        shown = f"[{host}]" if ":" in host else host
        url = f"http://{shown}:{bound}"
        info = {
            "url": url, "docs": f"{url}/docs", "openapi": f"{url}/openapi.json",
            "mcp": f"{url}/mcp", "auth": not no_auth, "db": str(settings.db),
        }
        if as_json:
            click.echo(json.dumps(info), nl=True)
        else:
            click.echo(f"Lore serving {settings.db} at {url} (docs {url}/docs, MCP {url}/mcp)")
        if runtime.index_pending:
            note(
                f"building the ranked search index ({runtime.index_pending:,} records) in the"
                " background; searches rank full text with SQLite until it is ready"
            )
        if not no_auth and not runtime.read_now(lambda lore: list_keys(lore.store)):
            note("no access keys yet: create one with `lore keys create --namespace NS`")
        config = uvicorn.Config(
            app, log_level="warning", lifespan="on", timeout_graceful_shutdown=5
        )
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        runtime.close()


@cli.command("mcp")
@click.option(
    "--key", envvar="LORE_KEY", default=None,
    help="Access key from `lore keys create`; confines every tool to its namespace."
    " [env: LORE_KEY]",
)
@click.option(
    "--no-auth", is_flag=True, help="Use no key: every namespace, local development only."
)
@json_option
@click.pass_obj
def mcp_command(settings: Settings, key: str | None, no_auth: bool, as_json: bool) -> None:
    """Serve MCP over stdio for one agent (Claude Desktop, Claude Code, Cursor, ...): tools
    search, context, expand, remember, forget, fold, memories and distill. With --json, print
    the tools (name, description, input schema) as JSON and exit instead."""
    from ..server.auth import LOCAL_KEY, AccessKey, verify_key
    from ..server.mcp import build_mcp
    from ..server.runtime import Runtime

    runtime = Runtime(settings.db, embedder=settings.embedder or USE_DEFAULT, readers=2)
    try:
        if not no_auth and not as_json:
            runtime.read_now(lambda lore: verify_key(lore.store, key))  # fail fast, one line

        async def key_source(ctx: Any) -> AccessKey:
            if no_auth:
                return LOCAL_KEY
            return await runtime.read(lambda lore: verify_key(lore.store, key))  # revocable

        server = build_mcp(runtime, key_source)
        if as_json:
            tools = asyncio.run(server.list_tools())
            emit_json([
                {"name": t.name, "description": t.description, "input_schema": t.input_schema}
                for t in tools
            ])
            return
        server.run("stdio")
    finally:
        runtime.close()
