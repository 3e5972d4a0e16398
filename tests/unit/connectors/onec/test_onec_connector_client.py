"""The connector at the httpx level (respx): auth, address, SOAP version, retries, faults, paging, writes."""

from __future__ import annotations

import base64
import logging
from collections.abc import AsyncIterator, Callable
from datetime import date

import httpx
import pytest
import respx

from connectors.errors import Terminal, Transient
from connectors.onec.connector import OneCConnector, OneCOptions, RetryPolicy
from connectors.onec.contract import WSDL_PATH
from connectors.onec.errors import (
    OneCAuthError,
    OneCFault,
    OneCLicenceError,
    OneCLockConflict,
    OneCProtocolError,
    OneCSessionsLocked,
    OneCTimeout,
    OneCTransportError,
    OneCUnavailable,
)
from connectors.onec.port import OneCPort, PersonRef, RequestSubmission

from .onec_connector_soap import ENDPOINT, fault, info, operation_of, page, person, soap

FAST = RetryPolicy(attempts=3, initial_wait=0, max_wait=0, jitter=0)
R1 = "aaaaaaaa-0000-0000-0000-000000000001"
R2 = "aaaaaaaa-0000-0000-0000-000000000002"
Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture
async def make() -> AsyncIterator[Callable[..., OneCConnector]]:
    made: list[OneCConnector] = []

    def factory(**kwargs: object) -> OneCConnector:
        options = {"endpoint": ENDPOINT, "retry": FAST, **kwargs}
        connector = OneCConnector(OneCOptions(**options))  # type: ignore[arg-type]
        made.append(connector)
        return connector

    yield factory
    for connector in made:
        await connector.close()


def route(
    router: respx.MockRouter, handlers: dict[str, list[httpx.Response] | Handler], url: str = ENDPOINT
) -> dict[str, int]:
    """POSTs to ``url`` answered per operation: a list is consumed in order (the last one repeats)."""
    calls: dict[str, int] = {}

    def dispatch(request: httpx.Request) -> httpx.Response:
        op = operation_of(request)
        calls[op] = calls.get(op, 0) + 1
        handler = handlers[op]
        if callable(handler):
            return handler(request)
        return handler[min(calls[op], len(handler)) - 1]

    router.post(url).mock(side_effect=dispatch)
    return calls


def _submit(result_inner: str) -> httpx.Response:
    return soap("SubmitRequest", result_inner)


CREATED = (
    "<m:requestId>r-1</m:requestId><m:status>Created</m:status><m:docType>ЗаявкаНаОтпуск</m:docType>"
    f'<m:docRef>{R1}</m:docRef><m:docNumber>ЗО-1</m:docNumber><m:errors xsi:nil="true"/>'
)
REQUEST = RequestSubmission(
    request_id="r-1",
    kind="Leave",
    person_ref=PersonRef(R1),
    employee_ref=None,
    date_from=date(2026, 12, 1),
    date_to=date(2026, 12, 14),
)


@respx.mock
async def test_basic_auth_is_utf8_for_cyrillic_logins(make: Callable[..., OneCConnector]) -> None:
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["Authorization"])
        return info().__class__(200, content=info().content, headers=info().headers)

    route(respx.mock, {"GetInfo": answer})
    await make(username="Обмен_ЗУП", password="пароль").info()
    assert seen == ["Basic " + base64.b64encode("Обмен_ЗУП:пароль".encode()).decode()]


@respx.mock
async def test_configured_endpoint_overrides_the_advertised_address(
    make: Callable[..., OneCConnector],
) -> None:
    advertised = respx.post("http://srv-1c/zup/ws/ExtranetBridge.1cws").mock(return_value=info())
    calls = route(respx.mock, {"GetInfo": [info()]})
    connector = make()
    await connector.info()
    assert calls == {"GetInfo": 1} and not advertised.called
    assert connector.address == ENDPOINT


@respx.mock
@pytest.mark.parametrize("version", ["1.1", "1.2"])
async def test_soap_version_selects_the_port(make: Callable[..., OneCConnector], version: str) -> None:
    soap12 = version == "1.2"
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return info(soap12=soap12)

    route(respx.mock, {"GetInfo": answer})
    got = await make(soap_version=version).info()
    assert got.node_code == "EB1"
    ctype = seen[0].headers["content-type"]
    if soap12:
        assert (
            ctype.startswith("application/soap+xml")
            and b"www.w3.org/2003/05/soap-envelope" in seen[0].content
        )
    else:
        assert ctype.startswith("text/xml") and b"schemas.xmlsoap.org/soap/envelope/" in seen[0].content
        assert (
            seen[0].headers["SOAPAction"] == '"http://extranet-bridge.example/zup/1#ExtranetBridge:GetInfo"'
        )


@respx.mock
async def test_wsdl_from_url_is_fetched_with_auth_and_gives_the_endpoint(
    make: Callable[..., OneCConnector],
) -> None:
    wsdl_url = "http://1c.test/zup/ws/ExtranetBridge.1cws?wsdl"
    wsdl = respx.get(wsdl_url).mock(return_value=httpx.Response(200, content=WSDL_PATH.read_bytes()))
    route(respx.mock, {"GetInfo": [info()]})
    connector = make(wsdl=wsdl_url, endpoint="", username="u", password="p")
    await connector.info()
    assert wsdl.calls.last.request.headers["Authorization"].startswith("Basic ")
    assert connector.address == ENDPOINT


@respx.mock
async def test_wsdl_url_refusing_credentials_is_terminal(make: Callable[..., OneCConnector]) -> None:
    respx.get("http://1c.test/x?wsdl").mock(return_value=httpx.Response(401, text="Unauthorized"))
    with pytest.raises(OneCAuthError):
        await make(wsdl="http://1c.test/x?wsdl").info()


@respx.mock
async def test_sessions_locked_page_is_retried_then_succeeds(make: Callable[..., OneCConnector]) -> None:
    locked = httpx.Response(
        503,
        text="<html><body>Начало сеанса с информационной базой запрещено. "
        "Сеансы заблокированы администратором.</body></html>",
        headers={"Content-Type": "text/html; charset=utf-8"},
    )
    calls = route(respx.mock, {"GetInfo": [locked, locked, info()]})
    got = await make().info()
    assert got.time_zone == "Europe/Moscow" and calls["GetInfo"] == 3


@respx.mock
async def test_sessions_locked_past_the_attempts_raises_a_transient_error(
    make: Callable[..., OneCConnector],
) -> None:
    locked = httpx.Response(500, text="Сеансы заблокированы", headers={"Content-Type": "text/plain"})
    calls = route(respx.mock, {"GetInfo": [locked]})
    with pytest.raises(OneCSessionsLocked) as caught:
        await make().info()
    assert isinstance(caught.value, Transient) and calls["GetInfo"] == FAST.attempts


@respx.mock
async def test_licence_fault_is_retried(make: Callable[..., OneCConnector]) -> None:
    calls = route(respx.mock, {"GetInfo": [fault("Не обнаружено свободной лицензии!"), info()]})
    await make().info()
    assert calls["GetInfo"] == 2


@respx.mock
async def test_licence_and_lock_faults_classify(make: Callable[..., OneCConnector]) -> None:
    route(respx.mock, {"GetInfo": [fault("Конфликт блокировок при выполнении транзакции", soap12=True)]})
    with pytest.raises(OneCLockConflict):
        await make(soap_version="1.2").info()
    respx.mock.reset()
    route(respx.mock, {"GetInfo": [httpx.Response(503, text="License not found")]})
    with pytest.raises(OneCLicenceError):
        await make().info()
    respx.mock.reset()
    route(respx.mock, {"GetInfo": [fault("Соединение с сервером 1С:Предприятия прервано администратором")]})
    with pytest.raises(OneCUnavailable) as caught:
        await make().info()
    assert isinstance(caught.value, Transient)


@respx.mock
async def test_module_fault_is_terminal_and_not_retried(make: Callable[..., OneCConnector]) -> None:
    calls = route(respx.mock, {"GetInfo": [fault("Ошибка при вызове метода контекста (Записать)")]})
    with pytest.raises(OneCFault) as caught:
        await make().info()
    assert isinstance(caught.value, Terminal) and calls["GetInfo"] == 1
    assert "Записать" not in caught.value.operator_message  # the raw text stays internal


@respx.mock
async def test_bad_credentials_are_terminal(make: Callable[..., OneCConnector]) -> None:
    calls = route(respx.mock, {"GetInfo": [httpx.Response(401, text="")]})
    with pytest.raises(OneCAuthError):
        await make().info()
    assert calls["GetInfo"] == 1


@respx.mock
async def test_timeouts_and_dropped_connections_are_retried(make: Callable[..., OneCConnector]) -> None:
    attempts = {"n": 0}

    def flaky(request: httpx.Request) -> httpx.Response:
        attempts["n"] += 1
        if attempts["n"] == 1:
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            )
        if attempts["n"] == 2:
            raise httpx.ConnectError("refused", request=request)
        return info()

    route(respx.mock, {"GetInfo": flaky})
    await make().info()
    assert attempts["n"] == 3

    respx.mock.reset()

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    calls = route(respx.mock, {"GetInfo": slow})
    with pytest.raises(OneCTimeout) as caught:
        await make().info()
    assert isinstance(caught.value, OneCTransportError) and calls["GetInfo"] == FAST.attempts


async def test_timeouts_are_explicit() -> None:
    connector = OneCConnector(OneCOptions(endpoint=ENDPOINT, connect_timeout=2, read_timeout=7))
    timeout = connector._http.timeout
    assert (timeout.connect, timeout.read) == (2, 7)
    await connector.close()


@respx.mock
async def test_html_instead_of_soap_is_not_parsed(make: Callable[..., OneCConnector]) -> None:
    route(
        respx.mock,
        {
            "GetInfo": [
                httpx.Response(200, text="<html>proxy login</html>", headers={"Content-Type": "text/html"})
            ]
        },
    )
    with pytest.raises(OneCProtocolError):
        await make().info()
    respx.mock.reset()
    route(respx.mock, {"GetInfo": [httpx.Response(502, text="Bad gateway")]})
    with pytest.raises(OneCUnavailable):
        await make().info()


@respx.mock
async def test_business_errors_are_results_and_not_retried(make: Callable[..., OneCConnector]) -> None:
    rejected = _submit(
        '<m:requestId>r-1</m:requestId><m:status>Rejected</m:status><m:docType xsi:nil="true"/>'
        '<m:docRef>00000000-0000-0000-0000-000000000000</m:docRef><m:docNumber xsi:nil="true"/>'
        "<m:errors><m:item><m:code>EmployeeNotFound</m:code><m:message>Сотрудник не найден</m:message>"
        "<m:field>employeeRef</m:field></m:item></m:errors>"
    )
    calls = route(respx.mock, {"GetInfo": [info()], "SubmitRequest": [rejected]})
    result = await make().submit_request(REQUEST)
    assert result.status == "Rejected" and result.doc_ref is None
    assert result.errors[0].code == "EmployeeNotFound" and result.errors[0].field == "employeeRef"
    assert calls["SubmitRequest"] == 1


@respx.mock
async def test_write_is_retried_with_the_same_request_id(make: Callable[..., OneCConnector]) -> None:
    bodies: list[bytes] = []

    def answer(request: httpx.Request) -> httpx.Response:
        bodies.append(request.content)
        if len(bodies) == 1:
            raise httpx.ReadTimeout("lost answer", request=request)
        return _submit(CREATED.replace("Created", "AlreadyExists", 1))

    route(respx.mock, {"GetInfo": [info()], "SubmitRequest": answer})
    result = await make().submit_request(REQUEST)
    assert result.status == "AlreadyExists" and result.doc_ref == R1
    assert len(bodies) == 2 and bodies[0] == bodies[1] and b"<ns0:requestId>r-1</ns0:requestId>" in bodies[0]
    assert b"<ns0:dateFrom>2026-12-01T00:00:00</ns0:dateFrom>" in bodies[0]
    assert b"<ns0:employeeRef>00000000-0000-0000-0000-000000000000</ns0:employeeRef>" in bodies[0]


@respx.mock
async def test_snapshot_pages_by_last_ref_until_has_more_is_false(make: Callable[..., OneCConnector]) -> None:
    sent: list[bytes] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request.content)
        if len(sent) == 1:
            return soap("GetSnapshotPage", page("Person", person(R1), R1, True))
        return soap("GetSnapshotPage", page("Person", person(R2, "Смирнова"), R2, False))

    route(respx.mock, {"GetInfo": [info()], "GetSnapshotPage": answer})
    pages = [p async for p in make().snapshot("Person", page_size=1)]
    assert [[getattr(r, "ref", None) for r in p] for p in pages] == [[R1], [R2]]
    assert b"<ns0:afterRef>00000000-0000-0000-0000-000000000000</ns0:afterRef>" in sent[0]
    assert f"<ns0:afterRef>{R1}</ns0:afterRef>".encode() in sent[1]
    assert b"<ns0:pageSize>1</ns0:pageSize>" in sent[0]


@respx.mock
async def test_stalled_paging_is_a_protocol_error(make: Callable[..., OneCConnector]) -> None:
    stuck = soap("GetSnapshotPage", page("Person", person(R1), R1, True))
    route(respx.mock, {"GetInfo": [info()], "GetSnapshotPage": [stuck]})
    with pytest.raises(OneCProtocolError):
        async for _page in make().snapshot("Person"):
            pass


@respx.mock
async def test_changes_sends_exactly_the_ack_it_is_given(make: Callable[..., OneCConnector]) -> None:
    sent: list[bytes] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request.content)
        return soap(
            "GetChanges", "<m:messageNo>5</m:messageNo><m:items/><m:hasMore>false</m:hasMore><m:errors/>"
        )

    route(respx.mock, {"GetInfo": [info()], "GetChanges": answer})
    connector = make()
    first = await connector.changes(0, max_items=10)
    again = await connector.changes(0, max_items=10)  # not committed: ask again with the old ack
    assert first.message_no == again.message_no == 5 and first.items == ()
    assert all(b"<ns0:ackMessageNo>0</ns0:ackMessageNo>" in body for body in sent)
    await connector.changes(first.message_no)
    assert b"<ns0:ackMessageNo>5</ns0:ackMessageNo>" in sent[-1]
    with pytest.raises(ValueError):
        await connector.changes(-1)


async def test_zeep_transport_logging_stays_above_debug() -> None:
    logging.getLogger("zeep.transports").setLevel(logging.DEBUG)
    connector = OneCConnector(OneCOptions(endpoint=ENDPOINT))
    assert logging.getLogger("zeep.transports").getEffectiveLevel() > logging.DEBUG
    await connector.close()


@respx.mock
async def test_page_size_is_clamped_to_the_contract_limit(make: Callable[..., OneCConnector]) -> None:
    sent: list[bytes] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request.content)
        return soap("GetSnapshotPage", page("Person", "", "00000000-0000-0000-0000-000000000000", False))

    route(respx.mock, {"GetInfo": [info()], "GetSnapshotPage": answer})
    pages = [p async for p in make(page_size=5000).snapshot("Person")]
    assert pages == [] and b"<ns0:pageSize>1000</ns0:pageSize>" in sent[0]


def test_the_connector_implements_the_port() -> None:
    def as_port(connector: OneCConnector) -> OneCPort:
        return connector  # mypy checks the structural match

    assert as_port(OneCConnector(OneCOptions(endpoint=ENDPOINT))) is not None
