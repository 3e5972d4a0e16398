"""What the portal's added pages share: the session, the page, the guard — and the ports they call.

The cabinet, the provider's view, notifications, resumes and "who is working today" are routers of their
own, included by ``create_portal_router`` (one line each). They read the same signed session cookie
(``portal/auth.py``) and render with the same base template; ``Kit`` gives them ``who``, ``page``,
``form`` (CSRF-checked) and ``guarded`` (every refusal a one-line page: 401, 403, 404, 400, 503).

Their outside calls go through ``PortalPorts``, which the app puts on ``app.state.portal_ports``:
the state store's sessions (notifications, regulations), the 1C port (``GetWorkSchedule``) and the
Bitrix24 gateway **with the application's token** (``timeman.status``, ``disk.*``) — never the visiting
user's token: an extranet user may not call ``timeman.status`` (bitrix24-rest.md §10.3) nor see the
group Drive of another site.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

from portal.access import ROLE_LABELS, AccessDenied, Principal
from portal.auth import COOKIE, Session, Sessions, csrf_ok
from portal.data import NotFound, PortalData
from processes.catalog import default_catalog
from processes.regulations import STATE_LABELS as ACK_LABELS
from timesheets.lifecycle import STATE_LABELS
from timesheets.presence import LABELS as PRESENCE_LABELS

if TYPE_CHECKING:
    from connectors.bitrix24.port import Bitrix24Port
    from connectors.onec.port import OneCPort
    from portal.web import PortalSettings

log = logging.getLogger(__name__)
TEMPLATES = Path(__file__).with_name("templates")
REQUEST_STATE_LABELS = {
    "received": "принята",
    "invalid": "не прошла проверку",
    "approved": "согласована",
    "submitted": "передана в 1С",
    "done": "выполнена",
    "rejected": "отклонена",
    "cancelled": "отменена",
    "failed": "ошибка передачи в 1С",
}
"""An HR request's states (processes/engine.py); every ``awaiting:<step>`` reads «на согласовании»."""


def request_state(state: str) -> str:
    return "на согласовании" if state.startswith("awaiting:") else REQUEST_STATE_LABELS.get(state, state)


INVITATION_LABELS = {"sent": "отправлено", "failed": "не доставлено", "accepted": "принято"}
OK_MESSAGES = {
    "acknowledged": "Отмечено: вы ознакомились с документом",
    "preferences": "Настройки уведомлений сохранены",
    "uploaded": "Резюме загружено на Диск группы",
    "generated": "Резюме сформированы из данных 1С",
}


@dataclass(frozen=True)
class PortalPorts:
    """What the added pages call outside the request; any of them may be absent (the page says so)."""

    sessions: sessionmaker[DbSession] | None = None
    onec: OneCPort | None = None
    bitrix24: Bitrix24Port | None = None
    """The gateway authorised as the application (connectors/bitrix24/factory.py), never a user's token."""


def ports(request: Request) -> PortalPorts:
    found = getattr(request.app.state, "portal_ports", None)
    return found if isinstance(found, PortalPorts) else PortalPorts()


class NoSession(Exception):
    pass


class BadCsrf(Exception):
    pass


class Unavailable(Exception):
    """An outside system did not answer or is not configured; the message is safe to show."""


class Invalid(Exception):
    """The user's input cannot be used; the message says how to fix it."""


class Kit:
    def __init__(self, data: PortalData, settings: PortalSettings) -> None:
        self.data = data
        self.settings = settings
        self.sessions = Sessions(settings.session_secret, max_age=settings.session_max_age)
        self.templates = Jinja2Templates(directory=str(TEMPLATES))
        self.templates.env.globals.update(
            STATE_LABELS=STATE_LABELS,
            ROLE_LABELS=ROLE_LABELS,
            PRESENCE_LABELS=PRESENCE_LABELS,
            INVITATION_LABELS=INVITATION_LABELS,
            request_state=request_state,
            ACK_LABELS=ACK_LABELS,
            REQUEST_TITLES={code: e.title for code, e in default_catalog().processes.items()},
        )

    def who(self, request: Request) -> tuple[Session, Principal]:
        session = self.sessions.load(request.cookies.get(COOKIE))
        if session is None or session.user_id is None:
            raise NoSession()
        principal = self.data.principal(session.user_id)
        if principal is None:
            raise AccessDenied("Доступ не настроен: обратитесь к менеджеру поставщика")
        return session, principal

    def page(
        self, request: Request, name: str, session: Session | None, status: int = 200, **context: Any
    ) -> Response:
        ok = OK_MESSAGES.get(request.query_params.get("ok", ""))
        response = self.templates.TemplateResponse(
            request, name, {"csrf": session.csrf if session else "", "ok": ok, **context}, status_code=status
        )
        response.headers["Content-Security-Policy"] = f"frame-ancestors {self.settings.frame_ancestors}"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-store"
        return response

    def message(self, request: Request, text: str, status: int, session: Session | None = None) -> Response:
        return self.page(request, "message.html", session, status, text=text, principal=None)

    async def form(self, request: Request, session: Session) -> dict[str, Any]:
        """The posted form (lists for repeated names), once its CSRF token matches the session's."""
        form = await request.form()
        if not csrf_ok(session, str(form.get("csrf") or "")):
            raise BadCsrf()
        return {k: form.getlist(k) if len(form.getlist(k)) > 1 else form.get(k) for k in form}

    def guarded(self, handler: Callable[..., Awaitable[Response]]) -> Callable[..., Awaitable[Response]]:
        @functools.wraps(handler)
        async def run(request: Request, **kwargs: Any) -> Response:
            session = self.sessions.load(request.cookies.get(COOKIE))
            try:
                return await handler(request, **kwargs)
            except NoSession:
                return self.message(
                    request, "Откройте страницу из Битрикс24: сессия не найдена или истекла", 401
                )
            except BadCsrf:
                return self.message(request, "Форма устарела: обновите страницу и повторите", 403, session)
            except AccessDenied as exc:
                return self.message(request, exc.message, 403, session)
            except NotFound:
                return self.message(request, "Не найдено", 404, session)
            except Invalid as exc:
                return self.message(request, str(exc), 400, session)
            except Unavailable as exc:
                return self.message(request, str(exc), 503, session)

        return run

    @staticmethod
    def back(url: str, ok: str) -> Response:
        return RedirectResponse(f"{url}?ok={ok}", status_code=303)


def deny(principal: Principal, action: str, site_ref: str = "-") -> AccessDenied:
    """A logged refusal (user id, action, site; no names) for checks the policy's ``require`` lacks."""
    log.warning("portal.access.denied", extra={"user": principal.user_id, "action": action, "site": site_ref})
    return AccessDenied()
