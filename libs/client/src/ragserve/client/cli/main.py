"""``ragserve``: run the local suite and use it from a terminal or a script.

Every command prints for people by default and one JSON object per line with
``--json``. Exit codes: 0 success, 1 the API refused or documents failed,
2 bad usage, 3 the suite cannot be reached, 130 interrupted.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from ragserve.client.cli.output import (
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_UNAVAILABLE,
    Output,
    plain,
)
from ragserve.client.connection import API_KEY_ENV, Connection
from ragserve.client.errors import RagserveError
from ragserve.client.sync import Client

T = TypeVar("T")

app = typer.Typer(
    name="ragserve",
    help="Run the local ragserve suite and use it: keys, collections, ingest, query, status.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
keys_app = typer.Typer(help="API keys (needs an admin key).", no_args_is_help=True)
collections_app = typer.Typer(help="Collections of the key's tenant.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(collections_app, name="collections")

JsonOption = Annotated[
    bool, typer.Option("--json", help="One JSON object per line on stdout, for scripts.")
]


@dataclass
class Settings:
    address: str | None
    api_key: str | None
    tls: bool | None
    ca_file: Path | None
    state_dir: Path
    json: bool

    def output(self, json_lines: bool) -> Output:
        return Output(json_lines or self.json)

    def local_admin_key(self) -> Path:
        return self.state_dir / "gateway" / "admin.key"

    def connection(self) -> Connection:
        """Key: --api-key, else RAGSERVE_API_KEY, else the local suite's admin key file."""
        api_key = self.api_key or os.environ.get(API_KEY_ENV)
        if not api_key and self.local_admin_key().is_file():
            api_key = self.local_admin_key().read_text().strip()
        return Connection.resolve(self.address, api_key, tls=self.tls, ca_file=self.ca_file)


@app.callback()
def _options(
    context: typer.Context,
    address: Annotated[
        str | None,
        typer.Option("--addr", envvar="RAGSERVE_GATEWAY_ADDR", help="Gateway host:port."),
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key",
            help="API key (default: RAGSERVE_API_KEY, else the local suite's admin key).",
            show_default=False,
        ),
    ] = None,
    tls: Annotated[
        bool | None, typer.Option("--tls/--no-tls", help="TLS to the gateway (default: off).")
    ] = None,
    ca_file: Annotated[
        Path | None,
        typer.Option(
            "--ca-file", envvar="RAGSERVE_TLS_CA_FILE", help="PEM roots to verify the gateway."
        ),
    ] = None,
    state_dir: Annotated[
        Path,
        typer.Option(
            "--state-dir",
            envvar="RAGSERVE_STATE_DIR",
            help="Where `up` keeps logs, keys and data.",
        ),
    ] = Path("var"),
    json_lines: JsonOption = False,
) -> None:
    context.obj = Settings(address, api_key, tls, ca_file, state_dir, json_lines)


def settings_of(context: typer.Context) -> Settings:
    settings = context.obj
    assert isinstance(settings, Settings)
    return settings


@contextmanager
def _client(settings: Settings, output: Output) -> Iterator[Client]:
    """A client; API errors and Ctrl-C become a message and an exit code."""
    try:
        with Client(connection=settings.connection()) as client:
            yield client
    except RagserveError as error:
        raise typer.Exit(output.api_error(error)) from None
    except KeyboardInterrupt:
        output.error("interrupted")
        raise typer.Exit(EXIT_INTERRUPTED) from None


def _call(settings: Settings, output: Output, work: Callable[[Client], T]) -> T:
    with _client(settings, output) as client:
        return work(client)


# ---------------------------------------------------------------- keys


def _permissions(raw: str) -> list[str]:
    names = [p.strip().lower() for p in raw.split(",") if p.strip()]
    unknown = [p for p in names if p not in ("read", "write", "admin")]
    if unknown or not names:
        raise typer.BadParameter(
            f"{raw!r}: give read, write and/or admin, comma-separated", param_hint="--permissions"
        )
    return names


@keys_app.command("create")
def keys_create(
    context: typer.Context,
    tenant: Annotated[str, typer.Option(help="The tenant the key acts for.")],
    permissions: Annotated[str, typer.Option(help="Comma-separated: read, write, admin.")] = "read",
    description: Annotated[str, typer.Option(help="Free text for people.")] = "",
    ttl: Annotated[
        float | None, typer.Option(help="Lifetime in seconds (default: never expires).")
    ] = None,
    json_lines: JsonOption = False,
) -> None:
    """Create a key; its secret is printed once and cannot be shown again."""
    settings = settings_of(context)
    output = settings.output(json_lines)
    names = _permissions(permissions)
    created = _call(
        settings,
        output,
        lambda c: c.create_key(tenant, names, description=description, ttl_s=ttl),
    )
    if output.json:
        output.emit({**_record(created.key), "secret": created.secret})
        return
    output.out.print(created.secret)
    output.err.print(
        f"key {created.key.id} for tenant {created.key.tenant} "
        f"({', '.join(p.value for p in created.key.permissions)}): the line above is its secret, "
        "shown only now. Use it as RAGSERVE_API_KEY.",
        style="dim",
    )


def _record(result: object) -> dict[str, object]:
    """A result dataclass as one JSON object."""
    record = plain(result)
    assert isinstance(record, dict)
    return record


@keys_app.command("list")
def keys_list(
    context: typer.Context,
    tenant: Annotated[str, typer.Option(help="Only this tenant's keys.")] = "",
    revoked: Annotated[bool, typer.Option("--revoked", help="Also list revoked keys.")] = False,
    json_lines: JsonOption = False,
) -> None:
    """List keys (never their secrets)."""
    settings = settings_of(context)
    output = settings.output(json_lines)
    keys = _call(settings, output, lambda c: c.list_keys(tenant, include_revoked=revoked))
    if output.json:
        for key in keys:
            output.emit(_record(key))
        return
    from rich.table import Table

    table = Table("id", "tenant", "permissions", "created", "expires", "revoked", "description")
    for key in keys:
        table.add_row(
            key.id,
            key.tenant,
            ",".join(p.value for p in key.permissions),
            _when(key.created_at),
            _when(key.expires_at) or "never",
            _when(key.revoked_at),
            key.description,
        )
    output.out.print(table)


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value is not None else ""


@keys_app.command("revoke")
def keys_revoke(
    context: typer.Context,
    key_id: Annotated[str, typer.Argument(metavar="ID", help="The key's id (16 hex digits).")],
    json_lines: JsonOption = False,
) -> None:
    """Revoke a key: every gateway refuses it within 2 s."""
    settings = settings_of(context)
    output = settings.output(json_lines)
    key = _call(settings, output, lambda c: c.revoke_key(key_id))
    if output.json:
        output.emit(_record(key))
    else:
        output.out.print(f"revoked key {key.id} of tenant {key.tenant}")


# ---------------------------------------------------------------- collections


@collections_app.command("create")
def collections_create(
    context: typer.Context,
    name: Annotated[str, typer.Argument(help="Collection name.")],
    model: Annotated[str, typer.Option(help="Embedding model (default: the suite's).")] = "",
    json_lines: JsonOption = False,
) -> None:
    """Create a collection."""
    settings = settings_of(context)
    output = settings.output(json_lines)
    collection = _call(settings, output, lambda c: c.create_collection(name, model))
    if output.json:
        output.emit(_record(collection))
    else:
        output.out.print(
            f"created collection {collection.name} ({collection.model}, {collection.dimension} dimensions)"
        )


@collections_app.command("list")
def collections_list(context: typer.Context, json_lines: JsonOption = False) -> None:
    """List the tenant's collections."""
    settings = settings_of(context)
    output = settings.output(json_lines)
    collections = _call(settings, output, lambda c: c.list_collections())
    if output.json:
        for collection in collections:
            output.emit(_record(collection))
        return
    from rich.table import Table

    table = Table("name", "model", "dimension", "documents", "chunks", "created")
    for collection in collections:
        table.add_row(
            collection.name,
            collection.model,
            str(collection.dimension),
            str(collection.documents),
            str(collection.chunks),
            _when(collection.created_at),
        )
    output.out.print(table)


@collections_app.command("delete")
def collections_delete(
    context: typer.Context,
    name: Annotated[str, typer.Argument(help="Collection name.")],
    json_lines: JsonOption = False,
) -> None:
    """Delete a collection and every document in it."""
    settings = settings_of(context)
    output = settings.output(json_lines)
    _call(settings, output, lambda c: c.delete_collection(name))
    if output.json:
        output.emit({"deleted": name})
    else:
        output.out.print(f"deleted collection {name}")


# ---------------------------------------------------------------- ingest, query, status, up


@app.command()
def ingest(
    context: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="Files and folders.", show_default=False)],
    collection: Annotated[str, typer.Option("--collection", "-c", help="Target collection.")],
    create: Annotated[
        bool, typer.Option("--create", help="Create the collection when it does not exist.")
    ] = False,
    max_tokens: Annotated[int, typer.Option(help="Largest chunk in tokens (0 = default).")] = 0,
    resend: Annotated[
        bool,
        typer.Option(
            "--resend",
            help="Send every document, also those the collection holds unchanged already.",
        ),
    ] = False,
    json_lines: JsonOption = False,
) -> None:
    """Ingest text, Markdown, HTML and PDF files (by extension), folders recursively.

    Resumable: run it again and the documents the collection already holds, unchanged
    since, are not sent again; a lost connection resumes after the last acknowledged
    document."""
    from ragserve.client.cli.ingest_command import run_ingest

    settings = settings_of(context)
    output = settings.output(json_lines)
    with _client(settings, output) as client:
        code = run_ingest(
            client, output, paths, collection, create=create, max_tokens=max_tokens, resend=resend
        )
    raise typer.Exit(code)


@app.command()
def query(
    context: typer.Context,
    text: Annotated[str, typer.Argument(metavar="QUERY", help="The question.")],
    collection: Annotated[
        list[str], typer.Option("--collection", "-c", help="Collection(s) to search.")
    ],
    top_k: Annotated[int, typer.Option("--top-k", "-k", help="Hits to retrieve.")] = 5,
    no_answer: Annotated[
        bool, typer.Option("--no-answer", help="Hits only, no extractive answer.")
    ] = False,
    json_lines: JsonOption = False,
) -> None:
    """Ask a question: the answer streams, then its sources, timings and trace id."""
    from ragserve.client.cli.query_command import run_query

    settings = settings_of(context)
    output = settings.output(json_lines)
    with _client(settings, output) as client:
        code = run_query(client, output, text, collection, top_k=top_k, answer=not no_answer)
    raise typer.Exit(code)


@app.command()
def status(
    context: typer.Context,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for each service.")] = 2.0,
    json_lines: JsonOption = False,
) -> None:
    """The suite's health: each service's grpc.health.v1 and Redis."""
    from ragserve.client.cli.status import HealthProbes

    output = settings_of(context).output(json_lines)
    rows = HealthProbes().snapshot(timeout)
    if output.json:
        for row in rows:
            output.emit({**_record(row), "healthy": row.healthy})
    else:
        from rich.table import Table

        table = Table("service", "address", "status", "latency", "detail")
        for row in rows:
            style = "green" if row.healthy else "red"
            latency = f"{row.latency_ms:.1f} ms" if row.latency_ms is not None else ""
            table.add_row(row.name, row.address, f"[{style}]{row.status}[/]", latency, row.detail)
        output.out.print(table)
    if all(row.healthy for row in rows):
        raise typer.Exit(EXIT_OK)
    # Nothing answers at all: the suite is not running (as for any other command).
    down = all(row.status == "unreachable" for row in rows)
    raise typer.Exit(EXIT_UNAVAILABLE if down else EXIT_ERROR)


@app.command()
def up(context: typer.Context, json_lines: JsonOption = False) -> None:
    """Start Redis and every installed service on the default ports until Ctrl-C / SIGTERM.

    Logs go to <state-dir>/logs/; the first start creates a local admin key in
    <state-dir>/gateway/admin.key."""
    from ragserve.client.cli.up_command import run_up

    settings = settings_of(context)
    raise typer.Exit(run_up(settings.state_dir, settings.output(json_lines)))


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(EXIT_INTERRUPTED)


__all__ = ["app", "main"]
