"""The ``pollhub`` command: thin wrappers that parse arguments and call services."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
import uvicorn
from rich.console import Console
from sqlalchemy.ext.asyncio import AsyncSession

from pollhub.db.engine import create_engine, create_sessionmaker
from pollhub.db.migrate import upgrade_to_head
from pollhub.errors import PollhubError
from pollhub.logs import configure_logging
from pollhub.metrics import serve_metrics
from pollhub.oauth.client import close_token_transports
from pollhub.runtime import tune_garbage_collector
from pollhub.settings import generate_secret_key, get_settings
from pollhub.tenancy import service as tenancy
from pollhub.worker import run_until_signalled, run_worker

app = typer.Typer(help="pollhub: events for SaaS connectors.", no_args_is_help=True)
orgs = typer.Typer(help="Organizations (tenants).", no_args_is_help=True)
users = typer.Typer(help="Users of an organization.", no_args_is_help=True)
app.add_typer(orgs, name="orgs")
app.add_typer(users, name="users")

T = TypeVar("T")
HostOption = Annotated[str, typer.Option(help="interface to listen on")]
PortOption = Annotated[int, typer.Option(help="port to listen on")]


@app.command()
def serve(host: HostOption = "127.0.0.1", port: PortOption = 8000) -> None:
    """Apply migrations, then run the API and the worker in one process."""
    _default_public_url(host, port)
    upgrade_to_head(get_settings().database_url)
    _run_api(host, port, factory="pollhub.app:create_app_with_worker")


@app.command()
def api(host: HostOption = "127.0.0.1", port: PortOption = 8000) -> None:
    """Run the API alone (scale-out: many API processes share one database)."""
    _default_public_url(host, port)
    _run_api(host, port)


@app.command()
def worker(
    metrics_port: Annotated[
        int | None,
        typer.Option(help="serve this worker's Prometheus metrics at /metrics on this port"),
    ] = None,
    metrics_host: Annotated[str, typer.Option(help="interface for --metrics-port")] = "127.0.0.1",
) -> None:
    """Run a worker alone: polls, deliveries and pruning (start as many as you like)."""
    settings = get_settings()
    _refuse_without_secret_key()

    async def run(stop: asyncio.Event) -> None:
        engine = create_engine(settings.database_url)
        sessionmaker = create_sessionmaker(engine)
        try:
            if metrics_port is None:
                await run_worker(sessionmaker, stop)
                return
            async with serve_metrics(sessionmaker, metrics_host, metrics_port):
                await run_worker(sessionmaker, stop)
        finally:
            await close_token_transports()
            await engine.dispose()

    configure_logging()
    tune_garbage_collector()
    asyncio.run(run_until_signalled(run))


@app.command()
def demo(
    port: PortOption = 8000,
    duration: Annotated[
        float | None, typer.Option(help="stop after this many seconds (default: Ctrl-C)")
    ] = None,
    database: Annotated[Path, typer.Option(help="the demo's SQLite file (recreated)")] = Path(
        "pollhub-demo.db"
    ),
) -> None:
    """Everything embedded: sandbox providers, one instance per element, live callbacks."""
    from pollhub import demo as demo_module

    demo_module.configure_environment(port, database.resolve())
    console = Console()
    try:
        received = asyncio.run(demo_module.run_demo(port, duration, console))
    except KeyboardInterrupt:
        console.print("demo stopped")
        return
    if duration is not None and received == 0:
        raise typer.Exit(code=1)


@app.command()
def migrate() -> None:
    """Apply database migrations (alembic upgrade head) and say which were applied."""
    applied = upgrade_to_head(get_settings().database_url)
    if not applied:
        typer.echo("database was already up to date: no migration applied")
        return
    typer.echo(f"applied {len(applied)} migration{'' if len(applied) == 1 else 's'}:")
    for migration in applied:
        typer.echo(f"  {migration}")


@app.command()
def keygen() -> None:
    """Print a new random value for POLLHUB_SECRET_KEY."""
    typer.echo(generate_secret_key())


@orgs.command("create")
def create_org(
    name: str, email: Annotated[str, typer.Option(help="email of the first user")]
) -> None:
    """Create an organization and its first user; prints their secrets as JSON."""

    async def work(session: AsyncSession) -> dict[str, Any]:
        org, user = await tenancy.create_organization(session, name, email)
        return {
            "organization": {"id": org.id, "name": org.name, "secret": org.secret},
            "user": {"id": user.id, "email": user.name, "secret": user.secret},
        }

    typer.echo(json.dumps(_in_transaction(work)))


@users.command("create")
def create_user(
    org: Annotated[int, typer.Option("--org", help="organization id")],
    email: Annotated[str, typer.Option(help="the user's email")],
) -> None:
    """Add a user to an organization; prints its secret as JSON."""

    async def work(session: AsyncSession) -> dict[str, Any]:
        user = await tenancy.create_user(session, org, email)
        return {"user": {"id": user.id, "email": user.name, "secret": user.secret}}

    typer.echo(json.dumps(_in_transaction(work)))


@users.command("rotate-secret")
def rotate_user_secret(
    user: Annotated[int, typer.Option("--user", help="user id")],
) -> None:
    """Give a user a new secret (the old one stops working, and every console session of
    the user ends); prints it as JSON."""

    async def work(session: AsyncSession) -> dict[str, Any]:
        rotated = await tenancy.rotate_user_secret(session, user)
        return {"user": {"id": rotated.id, "email": rotated.name, "secret": rotated.secret}}

    typer.echo(json.dumps(_in_transaction(work)))


def _default_public_url(host: str, port: int) -> None:
    """Make ``POLLHUB_PUBLIC_URL`` default to where this process listens.

    The sandbox's provider URLs and Graph's notification URL are built from it, so a
    ``--port`` that left it at :8000 would send pollhub's own requests elsewhere.
    """
    if os.environ.get("POLLHUB_PUBLIC_URL"):
        return
    # A wildcard bind is reachable on loopback; an IPv6 literal needs brackets in a URL.
    reachable = {"0.0.0.0": "127.0.0.1", "::": "[::1]", "": "127.0.0.1"}.get(host, host)
    if ":" in reachable and not reachable.startswith("["):
        reachable = f"[{reachable}]"
    os.environ["POLLHUB_PUBLIC_URL"] = f"http://{reachable}:{port}"
    get_settings.cache_clear()


def _run_api(host: str, port: int, factory: str = "pollhub.app:create_app") -> None:
    settings = get_settings()
    _refuse_without_secret_key()
    if settings.sandbox and not settings.sandbox_on_network and not _is_loopback(host):
        _refuse(
            f"POLLHUB_SANDBOX=true lets anyone who reaches {host}:{port} change the simulated "
            "providers' data; listen on 127.0.0.1, or set POLLHUB_SANDBOX_ON_NETWORK=true "
            "to open the sandbox to the network on purpose"
        )
    configure_logging()
    tune_garbage_collector()
    uvicorn.run(
        factory,
        factory=True,
        host=host,
        port=port,
        log_level=settings.log_level.lower(),
    )


def _refuse_without_secret_key() -> None:
    """Stop before starting anything when the settings cannot encrypt secrets."""
    try:
        get_settings().resolved_secret_key()
    except RuntimeError as exc:
        _refuse(str(exc))


def _refuse(reason: str) -> None:
    typer.echo(f"error: {reason}", err=True)
    raise typer.Exit(code=2)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to any interface


def _in_transaction(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``work`` in one committed transaction on the configured database."""

    settings = get_settings()
    if settings.is_sqlite:
        # The embedded database is created on first use, so a newcomer needs no extra step.
        upgrade_to_head(settings.database_url)

    async def run() -> T:
        engine = create_engine(settings.database_url)
        try:
            async with create_sessionmaker(engine)() as session:
                result = await work(session)
                await session.commit()
                return result
        finally:
            await engine.dispose()

    try:
        return asyncio.run(run())
    except PollhubError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(code=1) from exc


def main() -> None:
    """Entry point of the ``pollhub`` console script."""
    app()
