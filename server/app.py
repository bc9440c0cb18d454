"""The application factory: routes, middleware and lifespan — nothing else."""

from __future__ import annotations

import contextlib
import gc
import logging
from collections.abc import AsyncIterator

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route

from server import metrics
from server.addresses import guarded_transport
from server.api.routes import routes as api_routes
from server.api.routes import unified_routes
from server.catalog.loader import load_catalog
from server.crypto import Sealer
from server.dashboard.routes import dashboard_routes
from server.db.database import close_database, open_database
from server.db.migrations import migrate
from server.error_responses import EXCEPTION_HANDLERS
from server.http import OutboundHTTP
from server.lifecycle.tasks import BackgroundTasks
from server.middleware import EdgeMiddleware, route_templates
from server.pages import make_templates
from server.proxies import TrustedProxies, parse_networks
from server.ratelimit import RateLimiter
from server.routes import auth, picker, sandbox, sandbox_api, static, unified, widget
from server.routes.metrics import metrics_endpoint, serve_port
from server.services import Services
from server.settings import Settings
from server.signing import Signer

logger = logging.getLogger("latchkey")


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_env()
    catalog = load_catalog(settings.catalog_dir)  # an invalid catalog stops the service here
    database = open_database(settings.database_url, lock_timeout=settings.database_lock_timeout)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await database.connect()
        await migrate(database)
        # Requests to our own origin (the sandbox provider) are answered in-process.
        http = OutboundHTTP(
            deadline=settings.http_timeout,
            max_bytes=settings.http_max_bytes,
            mounts={settings.origin: httpx.ASGITransport(app=app)},
        )
        typed_host_http = OutboundHTTP(
            deadline=settings.http_timeout,
            max_bytes=settings.http_max_bytes,
            transport=guarded_transport(allow_loopback=False),
        )
        app.state.services = Services(
            settings=settings,
            db=database,
            sealer=Sealer(settings.secret_key, settings.old_secret_keys),
            signer=Signer(settings.secret_key, settings.old_secret_keys),
            catalog=catalog,
            http=http,
            typed_host_http=typed_host_http,
            limiter=RateLimiter(settings.rate_limit_storage, settings.rate_limits),
        )
        metrics_server = None
        if settings.metrics_on:
            metrics.enable()
            if settings.metrics_port is not None:
                metrics_server = await serve_port(app.state.services, settings.metrics_host, settings.metrics_port)
        background = app.state.background = BackgroundTasks(app.state.services)
        if settings.background_tasks:
            background.start()  # token refresh ahead of expiry, webhook deliveries
        logger.info("Latchkey ready on %s with %d integrations", settings.base_url, len(catalog))
        # What startup built lives as long as the app: the cyclic collector need not walk it again.
        # A full collection walked all of it (about 100,000 objects, 15–25 ms with every request
        # waiting); frozen, it walks only what requests made since.
        gc.freeze()
        try:
            yield
        finally:
            gc.unfreeze()
            if metrics_server is not None:
                metrics_server.close()
            await background.stop()
            await http.aclose()
            await typed_host_http.aclose()
            await app.state.services.limiter.aclose()
            await close_database(database)

    routes = [
        *api_routes,  # first: the requests hosts make most
        # Next: the router tries each route in turn, and these are the requests every page makes.
        Route("/embed.js", widget.EmbedScript(settings.widget_dist / "embed.js"), methods=["GET"]),
        Route("/static/{path:path}", static.StaticFolder(settings.static_dir), methods=["GET"], name="static"),
        Route("/logos/{slug}.svg", static.Logos(catalog), methods=["GET"]),
        # Then every flow's own steps (about a microsecond per route tried before them).
        Route("/auth/{integration}/start", auth.start, methods=["GET"]),
        Route("/auth/{integration}/callback", auth.callback, methods=["GET", "POST"]),
        Route("/auth/result", auth.show_result, methods=["GET"], name="auth_result"),
        Route("/auth/{integration}/credentials", auth.submit_credentials, methods=["POST"]),
        Route("/", static.home, methods=["GET"]),
        Route("/favicon.ico", static.favicon, methods=["GET"]),
        Route("/healthz", static.healthz, methods=["GET"]),
        Route("/readyz", static.readyz, methods=["GET"]),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
        Route("/widget/result", widget.result_channel, methods=["GET"]),
        Route("/picker", picker.picker, methods=["GET"]),
        Route("/picker/again", picker.picker_again, methods=["GET"]),
        *unified_routes,  # Unified.to's shapes: passthrough and its authorization URL
        Route("/unified/integration/auth/{workspace_id}/{integration}", unified.authorize, methods=["GET"]),
        Route("/sandbox/oauth/authorize", sandbox.authorize, methods=["GET"]),
        Route("/sandbox/oauth/decide", sandbox.decide, methods=["POST"]),
        Route("/sandbox/oauth/token", sandbox.token, methods=["POST"]),
        Route("/sandbox/oauth/revoke", sandbox.revoke, methods=["POST"]),
        Route("/sandbox/.well-known/oauth-authorization-server", sandbox.metadata, methods=["GET"]),
        *sandbox_api.routes,  # the sandbox provider's synthetic CRM, behind its access tokens
        *dashboard_routes,
    ]
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(
                EdgeMiddleware,
                max_body_bytes=settings.max_body_bytes,
                passthrough_max_bytes=settings.passthrough_max_request_bytes,
                proxies=TrustedProxies(parse_networks(settings.trusted_proxies)),
                route_templates=route_templates(routes),
            )
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
    app.state.templates = make_templates(settings.templates_dir)
    app.state.settings = settings
    return app
