"""The app factory: `uvicorn --factory web.app:create_app`, or `subsidy serve`."""

from __future__ import annotations

import importlib
import logging
from contextlib import asynccontextmanager

import anyio

from litestar import Litestar, Response, get
from litestar.datastructures import State
from litestar.config.csrf import CSRFConfig
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins.pydantic import PydanticPlugin
from litestar.static_files import create_static_files_router

from subsidy.core import audit, datakeys, db, logs
from subsidy.core.settings import PROJECT_ROOT, get_settings
from subsidy.core.vault import VaultError
from web import errors, templating
from web.auth import AuthenticationMiddleware
from web.deps import RetryWrites, provide_reader, provide_session, provide_user
from web.pages.public import PublicCache
from web.security import SecurityHeaders

# Each area's module exposes `controllers`; adding an area is adding its name here.
AREAS = [
    "web.pages.accounts", "web.pages.home", "web.pages.system", "web.pages.policy", "web.pages.registry",
    "web.pages.supply", "web.pages.sales", "web.pages.settlement", "web.pages.reports", "web.pages.oversight",
    "web.pages.public", "web.pages.delivery", "web.pages.verification", "web.pages.quality",
    "web.pages.platform", "web.pages.payments",
    "web.api.accounts", "web.api.policy", "web.api.registry", "web.api.supply", "web.api.sales",
    "web.api.settlement", "web.api.reports", "web.api.oversight", "web.api.public", "web.api.delivery",
    "web.api.verification", "web.api.quality", "web.api.platform",
]


log = logging.getLogger("subsidy.web")


def _every(setting: str, work, failure: str, *, at_start: bool):
    """A lifespan that runs `work` in a worker thread every `Settings.<setting>` seconds while the server runs (0:
    never), first at start when `at_start`; a failed round is logged by its error's class alone (never a bound
    parameter) and the next round tries again."""
    @asynccontextmanager
    async def lifespan(_app):
        seconds = getattr(get_settings(), setting)
        if seconds <= 0:
            yield
            return
        stop = anyio.Event()

        async def loop() -> None:
            wait = not at_start
            while not stop.is_set():
                if wait:
                    with anyio.move_on_after(seconds):
                        await stop.wait()
                    if stop.is_set():
                        return
                wait = True
                try:
                    await anyio.to_thread.run_sync(work)
                except Exception as error:  # noqa: BLE001 - the next round tries again
                    log.warning(failure, type(error).__name__)

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(loop)
            try:
                yield
            finally:
                stop.set()

    return lifespan


def purge_uploads_once() -> int:
    """One round of the purge loop: `subsidy uploads purge` (uploads kept past a day hold whole ID numbers)."""
    from subsidy.registry import spreadsheet

    with db.transaction() as session:
        return spreadsheet.purge_uploads(session)


def run_anomalies_once() -> None:
    """One round of the anomaly loop: `subsidy anomalies run` (one process at a time: subsidy/oversight/anomalies.py)."""
    from subsidy.oversight import anomalies

    with db.transaction() as session:
        anomalies.run(session)


# Seal the audit log every few seconds (subsidy/core/audit.py). Every process runs the loop; on PostgreSQL an advisory
# lock lets one of them seal at a time, on SQLite the write lock does. Nothing is lost by a failed round.
_audit_sealer = _every("audit_seal_seconds", lambda: audit.seal_pending(),
                       "audit seal failed (%s); the next round picks the entries up", at_start=False)
# Purge stored uploads older than a day, at start and then every `upload_purge_seconds`.
_upload_purger = _every("upload_purge_seconds", lambda: purge_uploads_once(),
                        "upload purge failed (%s); the next round tries again", at_start=True)
# Run the anomaly rules every `anomaly_run_seconds` (a day by default), the first round a period after start: a
# restart does not run them again. Each process runs the loop; the run's lock lets one of them work at a time.
_anomaly_runner = _every("anomaly_run_seconds", lambda: run_anomalies_once(),
                         "anomaly run failed (%s); the next round tries again", at_start=False)


@get("/healthz", sync_to_thread=False, include_in_schema=False)
def healthz() -> dict:
    return {"status": "ok"}


FAVICON = PROJECT_ROOT / "static" / "favicon.svg"


@get("/favicon.ico", sync_to_thread=False, include_in_schema=False)
def favicon() -> Response:
    """The icon browsers ask for at /favicon.ico whatever the pages link (the pages link /static/favicon.svg): the
    same SVG, so no page's visit logs a 404 (issue 14, item 12). Public, as web/auth.py lists it."""
    return Response(FAVICON.read_bytes(), media_type="image/svg+xml")


def _controllers() -> list:
    handlers: list = []
    for name in AREAS:
        handlers += importlib.import_module(name).controllers
    return handlers


def create_app(*, check_schema: bool = True) -> Litestar:
    logs.install()
    settings = get_settings()
    if not settings.secret_key:
        raise SystemExit("SECRET_KEY is not set. Set it (for example `export SECRET_KEY=$(openssl rand -hex 32)`), "
                         "or set SUBSIDY_DEMO=1 for the demo.")
    if not settings.audit_keys.configured:
        raise SystemExit("SUBSIDY_AUDIT_KEY is not set. Set it (for example "
                         "`export SUBSIDY_AUDIT_KEY=2026a:$(openssl rand -hex 32)`, kept apart from the database and "
                         "from SECRET_KEY), or set SUBSIDY_DEMO=1 for the demo.")
    if not settings.data_keys.configured or not settings.lookup_key:
        raise SystemExit("SUBSIDY_DATA_KEY and SUBSIDY_LOOKUP_KEY must both be set: ID numbers and phones are stored "
                         "encrypted (for example `export SUBSIDY_DATA_KEY=2026a:$(openssl rand -hex 32)` and "
                         "`export SUBSIDY_LOOKUP_KEY=$(openssl rand -hex 32)`, kept apart from the database; see the "
                         "README, production), or set SUBSIDY_DEMO=1 for the demo.")
    if check_schema:
        try:
            db.ensure_schema_current(db.get_engine())
            datakeys.check_keys(db.get_engine())
        except (db.SchemaOutdated, VaultError) as error:
            raise SystemExit(str(error)) from None
    app = Litestar(
        route_handlers=[healthz, favicon, create_static_files_router(path="/static", directories=[PROJECT_ROOT / "static"]),
                        *_controllers()],
        dependencies={"session": Provide(provide_session), "reader": Provide(provide_reader), "user": Provide(provide_user, sync_to_thread=False)},
        middleware=[AuthenticationMiddleware(), RetryWrites()],
        csrf_config=CSRFConfig(secret=settings.secret_key, cookie_httponly=False, cookie_samesite="lax",
                               exclude=["^/api/", "^/public$"]),  # patterns: anchored, or "/x/api/" would pass unchecked;
        # /public sets no CSRF cookie: a cookie on an answer that proxies may keep would be shared
        template_config=templating.template_config(),
        exception_handlers=errors.HANDLERS,
        # Strict JSON types in every API body, once for all routes (web/api/__init__.py).
        plugins=[PydanticPlugin(validate_strict=True)],
        openapi_config=OpenAPIConfig(
            title="清洁煤补贴管理系统 API", version="1.0.0", path="/schema",
            components=Components(security_schemes={"BearerToken": SecurityScheme(type="http", scheme="bearer")}),
            security=[{"BearerToken": []}],
        ),
        logging_config=None,
        lifespan=[_audit_sealer, _upload_purger, _anomaly_runner],
        request_max_body_size=settings.upload_max_bytes,
        debug=False,
        state=State({"public_cache": PublicCache()}),  # web/pages/public.py: the public page's cache
    )
    app.asgi_handler = SecurityHeaders(app.asgi_handler)
    return app
