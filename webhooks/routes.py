"""``RequestOnlyRoute``: a FastAPI route class (FastAPI's documented custom ``APIRoute`` hook,
``get_route_handler``) for endpoints that take only the ``Request`` and return their response model.

Such an endpoint needs none of FastAPI's per-request work — solving dependencies and closing their
exit stacks, validating the answer against the response model and encoding it through
``jsonable_encoder`` — so the route calls it directly and renders the model it returned with pydantic.
The call-out path, the service's hottest, is one (webhooks/activity.py; ``bench events``). Everything else
is FastAPI's as usual: routing, a wrong method's 405, the application's exception handlers (a ``Refusal``
raised by the endpoint reaches them through Starlette's ``ExceptionMiddleware``), and the OpenAPI document
built from the declaration.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.types import Receive, Scope, Send


class RequestOnlyRoute(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        dependant = self.dependant
        params = (
            dependant.path_params,
            dependant.query_params,
            dependant.header_params,
            dependant.cookie_params,
            dependant.body_params,
            dependant.dependencies,
        )
        if any(params) or dependant.request_param_name is None:
            raise TypeError(f"{path}: a RequestOnlyRoute endpoint takes the Request and nothing else")
        self._answer = self.get_route_handler()

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] not in (self.methods or ()):  # FastAPI answers it (405 with Allow)
            await super().handle(scope, receive, send)
            return
        response = await self._answer(Request(scope, receive, send))
        await response(scope, receive, send)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        endpoint = self.endpoint
        status = self.status_code or 200

        async def handle(request: Request) -> Response:
            answer: BaseModel = await endpoint(request)
            return Response(answer.model_dump_json(), status, media_type="application/json")

        return handle
