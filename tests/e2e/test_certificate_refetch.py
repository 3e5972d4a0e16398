"""Issue 13, a certificate 1C marks done before its PDF exists: the reconciliation asks 1C (``GetDocument``)
again with backoff until the file comes, then it reaches the employee's Drive as usual; one that never comes
is reported for the operator after a bounded number of asks. 1C is the sandbox on loopback, seen through a
port that holds the file back (as 1C does while the certificate is not yet produced)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from connectors.onec.port import DocumentStatus
from processes import reconcile as rec
from processes.onec_answers import poll_submitted
from store.models import ProcessInstance
from tests.integration.processes._flow import CATALOG, World
from webhooks.handlers import ProcessDirectory

CERTIFICATE = {"certificate_kind": "employment", "purpose": "В банк"}


class FileNotReady:
    """The real connector, with the PDF held back while ``ready`` is False; counts ``GetDocument`` asks."""

    def __init__(self, onec: Any) -> None:
        self.onec, self.ready, self.asks = onec, False, 0

    async def document(self, request_id: str) -> DocumentStatus:
        self.asks += 1
        document: DocumentStatus = await self.onec.document(request_id)
        return document if self.ready else dataclasses.replace(document, content=None, file_name=None)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.onec, name)


def _certificate(w: World) -> ProcessInstance:
    with w.store.sessions() as session:
        found = session.scalar(select(ProcessInstance).where(ProcessInstance.kind == "certificate"))
        assert found is not None
        session.expunge(found)
        return found


async def _done_without_file(w: World, onec: FileNotReady) -> str:
    w.file("certificate", CERTIFICATE)
    await w.pump()
    assert w.decide(w.manager) == 1
    await w.pump()
    request_id = _certificate(w).request_id
    w.onec_sb.knobs.decide(request_id)
    await poll_submitted(w.store.sessions, onec, CATALOG)  # 1C says done, no PDF yet
    await w.pump(onec=False)
    done = _certificate(w)
    assert done.state == "done" and not done.data.get("drive_file_url")
    return request_id


async def _reconcile(w: World, onec: FileNotReady, at: datetime) -> rec.ReconcileReport:
    return await rec.reconcile(
        w.store.sessions, w.gateway, onec, CATALOG, ProcessDirectory(), clock=lambda: at
    )


async def test_the_file_is_asked_for_again_until_it_comes_and_reaches_drive(w: World) -> None:
    onec = FileNotReady(w.onec)
    request_id = await _done_without_file(w, onec)
    t0, asks = datetime.now(UTC), onec.asks

    async def reconcile(at: datetime) -> rec.ReconcileReport:
        return await _reconcile(w, onec, at)

    assert (await reconcile(t0)).documents_fetched == [] and onec.asks == asks + 1
    await reconcile(t0 + timedelta(minutes=5))  # within the backoff: not asked
    assert onec.asks == asks + 1
    onec.ready = True
    report = await reconcile(t0 + rec.DOCUMENT_BACKOFF)
    assert report.documents_fetched == [request_id] and onec.asks == asks + 2
    await w.pump(onec=False)
    delivered = _certificate(w)
    assert delivered.data.get("drive_file_url") and delivered.data.get("drive_file_id")
    assert any(delivered.data["drive_file_url"] in m for m in w.notifications(w.employee.uid))
    await reconcile(t0 + timedelta(days=30))  # delivered: never asked again
    assert onec.asks == asks + 2


async def test_a_file_that_never_comes_is_reported_after_bounded_asks(w: World) -> None:
    onec = FileNotReady(w.onec)
    request_id = await _done_without_file(w, onec)
    at, before = datetime.now(UTC), onec.asks
    for _ in range(rec.DOCUMENT_ASKS):
        report = await _reconcile(w, onec, at)
        assert report.documents_missing == []
        at += rec.DOCUMENT_MAX_WAIT
    assert onec.asks == before + rec.DOCUMENT_ASKS
    report = await _reconcile(w, onec, at)
    assert report.documents_missing == [request_id] and report.counts()["documents_missing"] == 1
    assert onec.asks == before + rec.DOCUMENT_ASKS
