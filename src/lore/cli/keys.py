"""`lore keys`: create, list and revoke the access keys that `lore serve` and `lore mcp` check."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click

from ..errors import ConfigError
from ..server.auth import SCOPE_HELP, SCOPES, AccessKey, create_key, list_keys, revoke_key
from ..store.sqlite import SQLiteStore
from ..types import to_iso
from .app import Settings, cli, emit_json, json_option, note


@contextmanager
def _store(settings: Settings) -> Iterator[SQLiteStore]:
    """The store's file without loading an embedder (keys need none)."""
    if not settings.db.exists():
        raise ConfigError(
            f"no Lore store at {settings.db}",
            hint="run `lore init` first, or pass --db PATH (or set LORE_DB)",
        )
    store = SQLiteStore(settings.db)
    try:
        yield store
    finally:
        store.close()


def _row(key: AccessKey) -> str:
    state = f"revoked {to_iso(key.revoked_at)}" if key.revoked_at else "active"
    created = (to_iso(key.created_at) or "")[:19]
    namespace, name = key.namespace or "*", key.name or "-"
    return f"{key.id}  {key.scope:<5}  {namespace:<24} {name:<16} {created}  {state}"


@cli.group()
def keys() -> None:
    """Access keys for the HTTP API and MCP server: each is bound to a namespace prefix and
    a scope (read, write or admin). Only a hash of each key is stored."""


@keys.command("create")
@click.option(
    "--namespace", required=True,
    help="Namespace prefix the key is confined to, e.g. acme/eng (it never sees acme/sales).",
)
@click.option(
    "--scope", type=click.Choice(SCOPES), default="read", show_default=True,
    help="; ".join(f"{s}: {h}" for s, h in SCOPE_HELP.items()) + ".",
)
@click.option("--name", default="", help="A label to recognise the key by in `lore keys list`.")
@json_option
@click.pass_obj
def create(settings: Settings, namespace: str, scope: str, name: str, as_json: bool) -> None:
    """Create a key and print it once, alone on stdout (`export LORE_KEY=$(lore keys create
    ...)`); it cannot be shown again."""
    with _store(settings) as store:
        key, secret = create_key(store, namespace, scope, name)
    if as_json:
        emit_json({**key.to_dict(), "key": secret})
        return
    click.echo(secret)
    note(f"key {key.id}: {scope} on {namespace}; shown once, store it now")


@keys.command("list")
@click.option("--revoked", is_flag=True, help="Include revoked keys.")
@json_option
@click.pass_obj
def list_command(settings: Settings, revoked: bool, as_json: bool) -> None:
    """Keys with their id, scope, namespace, name and creation time (never the secret)."""
    with _store(settings) as store:
        found = list_keys(store, revoked=revoked)
    if as_json:
        emit_json([k.to_dict() for k in found])
        return
    if not found:
        note("no keys; create one with `lore keys create --namespace NS --scope read`")
    for key in found:
        click.echo(_row(key))


@keys.command("revoke")
@click.argument("key_id")
@json_option
@click.pass_obj
def revoke(settings: Settings, key_id: str, as_json: bool) -> None:
    """Revoke KEY_ID (from `lore keys list`); requests with it fail from now on."""
    with _store(settings) as store:
        key = revoke_key(store, key_id)
    if as_json:
        emit_json(key.to_dict())
    else:
        click.echo(f"revoked {key.id} ({key.scope} on {key.namespace})")
