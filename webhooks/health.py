"""``/healthz`` (the process lives and answers; ``/health`` is kept as its alias), ``/readyz`` (the store,
1C and Bitrix24 can be reached: 200, or 503 naming what is missing) and ``/metrics`` (webhooks/metrics.py).

Readiness probes are cheap and short: ``SELECT 1`` on the store; for Bitrix24 the configuration, the
application's stored install (OAuth) and one plain GET of the portal's address (outside the REST API, so
it spends nothing of the request budget; an answer below 500 means the portal is there); for 1C one GET
of the service's WSDL (``<endpoint>?wsdl``, how 1C publishes a web service) with the configured
credentials. Each has a short timeout; the result is kept for ``ttl`` seconds and concurrent callers share
one probe, so a busy orchestrator cannot turn readiness checks into load. Details name the problem and
the setting to fix, never an address or a secret.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text

from config.settings import Settings
from config.wiring import Store
from webhooks.unconfigured import BITRIX24, ONEC, missing_settings, uses_application

STORE = "store"
OK = "ok"
Clock = Callable[[], float]


class Liveness(BaseModel):
    status: str = OK


class ReadyState(BaseModel):
    ready: bool
    missing: list[str]
    """One line per system that is not ready: ``<system>: <what is wrong>``."""
    checks: dict[str, str]
    """Every system probed: ``ok`` or what is wrong."""


@dataclass(frozen=True)
class Probed:
    checks: dict[str, str]

    @property
    def missing(self) -> list[str]:
        return [f"{name}: {detail}" for name, detail in self.checks.items() if detail != OK]


class Readiness:
    """The cached answer of the three probes."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        ttl: float = 5.0,
        timeout: float = 2.0,
        clock: Clock = time.monotonic,
    ) -> None:
        self.settings = settings
        self.store = store
        self.ttl = ttl
        self.timeout = timeout
        self.clock = clock
        self._last: tuple[float, Probed] | None = None
        self._lock = asyncio.Lock()
        self.probes = 0
        """How many times the probes ran (the cache's effect is visible in tests)."""

    async def state(self) -> Probed:
        async with self._lock:
            if self._last is not None and self.clock() - self._last[0] < self.ttl:
                return self._last[1]
            names = (STORE, BITRIX24, ONEC)
            results = await asyncio.gather(self._store(), self._bitrix24(), self._onec())
            probed = Probed(dict(zip(names, results, strict=True)))
            self.probes += 1
            self._last = (self.clock(), probed)
            return probed

    async def _bounded(self, probe: Awaitable[str]) -> str:
        try:
            return await asyncio.wait_for(probe, self.timeout)
        except TimeoutError:
            return f"no answer within {self.timeout:g} s"

    async def _store(self) -> str:
        def select_one() -> None:
            with self.store.engine.connect() as connection:
                connection.execute(text("SELECT 1"))

        async def probe() -> str:
            try:
                await asyncio.to_thread(select_one)
            except Exception as exc:
                return f"unreachable ({type(exc).__name__})"
            return OK

        return await self._bounded(probe())

    async def _bitrix24(self) -> str:
        missing = missing_settings(self.settings).get(BITRIX24)
        if missing is not None:
            return f"not configured ({missing})"
        b24 = self.settings.bitrix24
        if uses_application(self.settings):
            from connectors.bitrix24.auth import StoreVault
            from connectors.bitrix24.factory import portal_key

            vault = StoreVault(self.store.sessions, portal_key(b24.portal_url))
            try:
                installed = await self._bounded_value(asyncio.to_thread(vault.load))
            except Exception as exc:
                return f"install unknown: the store failed ({type(exc).__name__})"
            if installed is None:
                return "not installed"
            base = b24.portal_url
        else:
            base = b24.webhook_url.get_secret_value() if b24.webhook_url else ""
        parts = urlsplit(base)
        origin = f"{parts.scheme}://{parts.netloc}/"  # never the webhook's path: it holds the secret
        return await self._bounded(_answers(origin, timeout=self.timeout, refused=()))

    async def _onec(self) -> str:
        missing = missing_settings(self.settings).get(ONEC)
        if missing is not None:
            return f"not configured ({missing})"
        onec = self.settings.onec
        if onec.endpoint:
            url = onec.endpoint.split("?", 1)[0] + "?wsdl"
        elif onec.wsdl.startswith(("http://", "https://")):
            url = onec.wsdl
        else:
            return OK  # a WSDL file that names the address itself: nothing cheap to probe
        auth = httpx.BasicAuth(onec.username, onec.password.get_secret_value()) if onec.username else None
        return await self._bounded(_answers(url, timeout=self.timeout, auth=auth, refused=(401, 403, 404)))

    async def _bounded_value(self, work: Awaitable[Any]) -> Any:
        return await asyncio.wait_for(work, self.timeout)


async def _answers(
    url: str, *, timeout: float, refused: tuple[int, ...], auth: httpx.Auth | None = None
) -> str:
    """``ok`` when ``url`` answers below 500 and not with a ``refused`` status; otherwise why not."""
    try:
        async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as http:
            response = await http.get(url, auth=auth)
    except httpx.TimeoutException:
        return f"no answer within {timeout:g} s"
    except httpx.HTTPError as exc:
        return f"unreachable ({type(exc).__name__})"
    status = response.status_code
    if status in (401, 403) and status in refused:
        return f"credentials refused (HTTP {status})"
    if status in refused or status >= 500:
        return f"answers HTTP {status}"
    return OK


router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Liveness)
def healthz() -> Liveness:
    """The process lives and answers (no dependency is asked)."""
    return Liveness()


@router.get("/health", response_model=Liveness, include_in_schema=False)
def health() -> Liveness:
    """The former name of ``/healthz``."""
    return Liveness()


@router.get(
    "/readyz",
    response_model=ReadyState,
    responses={503: {"model": ReadyState, "description": "Something the bridge needs is missing"}},
)
async def readyz(request: Request) -> JSONResponse:
    """Ready when the store, 1C and Bitrix24 can be reached (probes cached for a few seconds)."""
    readiness: Readiness = request.app.state.readiness
    probed = await readiness.state()
    missing = probed.missing
    body = ReadyState(ready=not missing, missing=missing, checks=probed.checks)
    return JSONResponse(body.model_dump(), status_code=503 if missing else 200)


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}, "description": "Metrics"}},
)
async def metrics(request: Request) -> Response:
    """Prometheus metrics: the text exposition format, or OpenMetrics when the scraper asks for it."""
    metrics = request.app.state.metrics
    body, content_type = await asyncio.to_thread(metrics.render, request.headers.get("accept", ""))
    return Response(body, headers={"Content-Type": content_type})
