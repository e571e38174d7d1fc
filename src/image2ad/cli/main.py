"""The `image2ad` command: thin wrappers over the services."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import signal
from typing import Annotated, NoReturn

import typer

from image2ad import logs
from image2ad.auth import service as auth
from image2ad.cli.backup import backup_command, restore_command
from image2ad.cli.doctor import doctor
from image2ad.cli.generate import generate
from image2ad.cli.jobs import jobs_app
from image2ad.cli.process_exit import end_process, exit_code_of, leave_now
from image2ad.cli.report import report_app
from image2ad.config import Settings
from image2ad.credits import service as credits
from image2ad.db import Database
from image2ad.errors import DomainError
from image2ad.net.proxies import uvicorn_proxy_options
from image2ad.sqlite import SQLiteTooOld

log = logging.getLogger("image2ad.cli")

app = typer.Typer(no_args_is_help=True, help="image2ad: ad images and videos from Kie.ai.")
db_app = typer.Typer(no_args_is_help=True, help="Database commands.")
users_app = typer.Typer(no_args_is_help=True, help="User accounts.")
keys_app = typer.Typer(no_args_is_help=True, help="API keys.")
credits_app = typer.Typer(no_args_is_help=True, help="Credits.")
workers_app = typer.Typer(no_args_is_help=True, help="Worker processes and their workflows.")
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(keys_app, name="api-keys")
app.add_typer(credits_app, name="credits")
app.add_typer(workers_app, name="workers")
app.add_typer(jobs_app, name="jobs")
app.add_typer(report_app, name="report")
app.command("generate")(generate)
app.command("backup")(backup_command)
app.command("restore")(restore_command)
app.command("doctor")(doctor)


def _settings() -> Settings:
    settings = Settings()
    logs.configure(settings.log_level, settings.log_format)
    return settings


def _count_metrics(settings: Settings, role: str) -> None:
    """This process's counted metrics go to the host's metrics directory, under its executor id."""
    from image2ad.observability import events
    from image2ad.runtime import default_executor_id

    # Without a set executor id, two processes of one role on one host would share a file.
    process_id = settings.executor_id or f"{default_executor_id(role)}-{os.getpid()}"
    events.enable_multiprocess(settings.resolved_metrics_dir, process_id)


def _database() -> Database:
    return Database(_settings().resolved_database_url)


def _fail(exc: DomainError) -> None:
    typer.secho(f"error: {exc.message}", err=True, fg=typer.colors.RED)
    raise typer.Exit(1)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address")] = None,
    port: Annotated[int | None, typer.Option(help="Port")] = None,
    worker: Annotated[bool, typer.Option(help="Also run the job worker")] = True,
) -> None:
    """Serve the web app and API (and, by default, the job worker).

    SIGTERM drains: no new connections, open requests get IMAGE2AD_SHUTDOWN_GRACE_S, running
    workflows as long again, the rest is handed over; then the process exits 0.
    """
    import uvicorn

    from image2ad.app import create_app
    from image2ad.net.http_protocol import BoundedHeadProtocol

    overrides = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    settings = Settings(**overrides)  # type: ignore[arg-type]
    logs.configure(settings.log_level, settings.log_format)
    _count_metrics(settings, "serve" if worker else "api")
    application = create_app(settings, worker=worker, settle_heap=True)
    log.info("image2ad serving on http://%s:%s", settings.host, settings.port)
    # uvicorn re-raises the signal it stopped for once it is done; a handler of ours absorbs it,
    # so a drained stop ends with exit status 0 instead of death by SIGTERM.
    signal.signal(signal.SIGTERM, lambda *_: None)
    config = uvicorn.Config(
        application,
        host=settings.host,
        port=settings.port,
        log_config=logs.log_config(settings.log_level, settings.log_format),
        **uvicorn_proxy_options(settings),
        timeout_graceful_shutdown=math.ceil(settings.shutdown_grace_s) or None,
        http=BoundedHeadProtocol,
    )
    # The port is taken before the app starts: a second process that cannot listen (the old
    # one still running) exits here, before its engine recovers and runs workflows under an
    # executor id that a live process is using.
    listening = config.bind_socket()
    uvicorn.Server(config).run(sockets=[listening])
    _exit_drained()


@app.command("worker")
def worker_command() -> None:
    """Run a job worker: durable workflows, polls, deadlines (no HTTP).

    SIGTERM drains: the sweeper and the queues stop, running workflows get
    IMAGE2AD_SHUTDOWN_GRACE_S to finish, the rest is handed over; then the process exits 0.
    """
    from image2ad.heap import freeze_startup_objects
    from image2ad.jobs import drain, engine
    from image2ad.jobs.checker import Sweeper
    from image2ad.runtime import Runtime, install

    settings = _settings()
    settings.check_secrets()
    _count_metrics(settings, "worker")
    runtime = Runtime.build(settings, role="worker")

    async def run() -> None:
        install(runtime)
        engine.configure(runtime, listen=True)
        await engine.launch(runtime)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        sweeper = Sweeper(runtime)
        task = asyncio.create_task(sweeper.run_forever())
        freeze_startup_objects()
        log.info("image2ad worker %s running", runtime.executor_id())
        await stop.wait()
        log.info(
            "worker %s stopping: taking no new work, %gs for running workflows",
            runtime.executor_id(),
            settings.shutdown_grace_s,
        )
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await sweeper.aclose()
        await drain.stop_engine(runtime, settings.shutdown_grace_s)
        await runtime.aclose()
        runtime.db.dispose()

    asyncio.run(run())
    _exit_drained()


def _exit_drained() -> NoReturn:
    """Exit 0 now: engine threads still inside a handed-over step must not hold the exit."""
    log.info("stopped")
    leave_now(0)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply database migrations (safe to run repeatedly)."""
    from image2ad.migrate import current_revision, upgrade, upgrade_report

    url = _settings().resolved_database_url
    before = current_revision(url)
    upgrade(url)
    typer.echo(upgrade_report(before, current_revision(url)))


@users_app.command("create")
def users_create(
    email: str,
    password: Annotated[str | None, typer.Option(help="Password for the web app")] = None,
    credits_: Annotated[int, typer.Option("--credits", help="Credits to grant")] = 0,
    admin: Annotated[bool, typer.Option("--admin", help="Make an administrator")] = False,
) -> None:
    """Create a user."""
    db = _database()
    try:
        with db.session() as session:
            user = auth.create_user(
                session, email, password=password, credits_granted=credits_, is_admin=admin
            )
            typer.echo(f"created user {user.email} ({user.id}) with {user.credits} credits")
    except DomainError as exc:
        _fail(exc)
    finally:
        db.dispose()


@users_app.command("reset-password")
def users_reset_password(
    email: str,
    valid_minutes: Annotated[
        int, typer.Option(min=1, help="Minutes the link works (once) before it expires")
    ] = 60,
) -> None:
    """Print a one-time link with which the user chooses a new password."""
    from datetime import UTC, datetime, timedelta

    from image2ad.auth import resets

    settings = _settings()
    db = Database(settings.resolved_database_url)
    try:
        with db.session() as session:
            user = auth.require_user_by_email(session, email)
            token = resets.issue(session, user, timedelta(minutes=valid_minutes))
        typer.echo(f"Password reset link for {user.email} (works once):")
        typer.echo(resets.link(settings.resolved_public_url, token))
        expires = datetime.now(UTC) + timedelta(minutes=valid_minutes)
        typer.echo(f"It expires at {expires:%Y-%m-%d %H:%M} UTC (in {valid_minutes} min).")
    except DomainError as exc:
        _fail(exc)
    finally:
        db.dispose()


@keys_app.command("create")
def api_keys_create(
    email: str, name: Annotated[str, typer.Option(help="A label for the key")] = "cli"
) -> None:
    """Create an API key; it is printed once, on the last line."""
    db = _database()
    try:
        with db.session() as session:
            user = auth.require_user_by_email(session, email)
            key = auth.create_api_key(session, user, name)
        typer.echo("API key (shown once; store it now):")
        typer.echo(key.plaintext)
    except DomainError as exc:
        _fail(exc)
    finally:
        db.dispose()


@credits_app.command("grant")
def credits_grant(email: str, amount: int) -> None:
    """Grant credits to a user."""
    db = _database()
    try:
        with db.session() as session:
            user = auth.require_user_by_email(session, email)
            credits.grant(session, user.id, amount, note="cli grant")
            session.refresh(user)
            typer.echo(f"{user.email} now has {user.credits} credits")
    except DomainError as exc:
        _fail(exc)
    finally:
        db.dispose()


@workers_app.command("list")
def workers_list() -> None:
    """Every process that beats (API processes and workers): alive, dead or handed over."""
    from image2ad.jobs import workers
    from image2ad.runtime import Runtime

    runtime = Runtime.build(_settings(), role="admin")
    try:
        rows = workers.list_workers(runtime)
    finally:
        runtime.db.dispose()
    typer.echo("EXECUTOR\tROLE\tHOST:PID\tSTARTED\tLAST SEEN\tSTATE")
    for row in rows:
        seen = "-" if row.state == "handed-over" else f"{row.last_seen_at:%Y-%m-%d %H:%M:%S}Z"
        typer.echo(
            f"{row.executor_id}\t{row.role}\t{row.host}:{row.pid}\t"
            f"{row.started_at:%Y-%m-%d %H:%M:%S}Z\t{seen}\t{row.state}"
        )


@workers_app.command("recover")
def workers_recover(executor_id: str) -> None:
    """Hand a dead process's unfinished workflows to the live workers (safe to repeat)."""
    from image2ad.jobs import engine, workers
    from image2ad.runtime import Runtime, install

    settings = _settings()
    settings.executor_id = f"admin-{os.getpid()}"
    runtime = Runtime.build(settings, role="admin")

    async def run() -> int:
        install(runtime)
        engine.configure(runtime, listen=False)
        await engine.launch(runtime)
        try:
            return await workers.recover(executor_id)
        finally:
            await engine.shutdown()

    count = asyncio.run(run())
    runtime.db.dispose()
    typer.echo(f"re-enqueued {count} workflow(s) of {executor_id}")


@app.command()
def emulator(
    admin_key: Annotated[
        str,
        typer.Option(
            envvar="IMAGE2AD_EMULATOR_ADMIN_KEY",
            help="Bearer key of the test-steering routes (/_admin/…); required",
        ),
    ],
    port: Annotated[int, typer.Option(help="Port")] = 8090,
    host: Annotated[str, typer.Option(help="Bind address")] = "127.0.0.1",
    image_seconds: Annotated[float, typer.Option(help="Emulated image time")] = 4.0,
    video_seconds: Annotated[float, typer.Option(help="Emulated video time")] = 10.0,
    api_key: Annotated[str | None, typer.Option(help="Only accept this key")] = None,
    hmac_key: Annotated[str | None, typer.Option(help="Sign callbacks with this key")] = None,
    public_url: Annotated[str | None, typer.Option(help="URL the emulator is reached at")] = None,
) -> None:
    """Run the Kie.ai emulator alone (point KIE_BASE_URL and KIE_UPLOAD_BASE_URL at it)."""
    from image2ad.providers.emulator.server import serve as serve_emulator
    from image2ad.providers.emulator.settings import EmulatorSettings

    if not admin_key.strip():
        raise typer.BadParameter("must not be empty", param_hint="--admin-key")
    settings = EmulatorSettings(
        api_key=api_key,
        admin_key=admin_key,
        webhook_hmac_key=hmac_key,
        public_url=public_url or f"http://{host}:{port}",
        image_duration_s=image_seconds,
        video_duration_s=video_seconds,
    )
    serve_emulator(settings, host, port)


def main() -> NoReturn:
    try:
        app()
    except SQLiteTooOld as exc:
        # A setup problem with a known fix: one line, not a traceback.
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        end_process(1)
    except SystemExit as exc:
        end_process(exit_code_of(exc))
    end_process(0)


if __name__ == "__main__":
    main()
