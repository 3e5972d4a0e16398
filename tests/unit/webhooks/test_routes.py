"""``RequestOnlyRoute`` (webhooks/routes.py): the endpoint's model is the answer, refusals keep their
status, and an endpoint that declares anything besides the Request is refused when the route is made."""

from __future__ import annotations

import httpx
import pytest
from fastapi import APIRouter, FastAPI, HTTPException, Request
from pydantic import BaseModel

from webhooks.routes import RequestOnlyRoute


class Answer(BaseModel):
    length: int


def _app() -> FastAPI:
    router = APIRouter(route_class=RequestOnlyRoute)

    @router.post("/count", response_model=Answer, status_code=201)
    async def count(request: Request) -> Answer:
        body = await request.body()
        if not body:
            raise HTTPException(400, "empty")
        return Answer(length=len(body))

    app = FastAPI()
    app.include_router(router)
    return app


async def test_the_model_returned_is_the_answer_and_a_refusal_keeps_its_status() -> None:
    app = _app()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        answer = await http.post("/count", content=b"abc")
        refused = await http.post("/count", content=b"")
    assert (answer.status_code, answer.json()) == (201, {"length": 3})
    assert answer.headers["content-type"] == "application/json"
    assert (refused.status_code, refused.json()) == (400, {"detail": "empty"})
    documented = app.openapi()["paths"]["/count"]["post"]["responses"]["201"]
    assert documented["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Answer"}


def test_an_endpoint_with_parameters_is_refused() -> None:
    router = APIRouter(route_class=RequestOnlyRoute)

    async def search(request: Request, q: str) -> Answer:
        return Answer(length=len(q))

    with pytest.raises(TypeError, match="takes the Request and nothing else"):
        router.add_api_route("/search", search, methods=["GET"])


async def test_a_wrong_method_is_405_with_allow() -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=_app()), base_url="http://t") as http:
        answer = await http.get("/count")
    assert answer.status_code == 405 and answer.headers["allow"] == "POST"
