"""The fault profile: infrastructure failures a test switches on, per operation, for a number of calls.

Owns what 1C and its web server send when things go wrong (onec-zup.md §1.1): a SOAP fault with a Russian
text (an exception in the module), non-SOAP 503 "sessions locked" and 500 licence pages, an HTML 502 from
the proxy, a 401, slowness, and a connection dropped mid-reply. Never random: a fault fires only when a
test has set it, ``count`` times (or until cleared).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

KINDS = ("soap_fault", "sessions_locked", "licence", "proxy_502", "unauthorized", "slow", "drop")

SESSIONS_LOCKED = (
    "Начало сеанса с информационной базой запрещено.\n"
    "Сеансы заблокированы администратором для обновления конфигурации.\n"
    "Повторите попытку позже."
)
LICENCE_PAGE = (
    "<html><head><title>Ошибка</title></head><body><h1>500 Internal Server Error</h1>"
    "<p>Ошибка при выполнении операции с информационной базой</p>"
    "<p>Не обнаружена свободная лицензия!</p>"
    "<p>Не найдена лицензия для использования веб-сервиса.</p></body></html>"
)
PROXY_502 = (
    "<html><head><title>502 Bad Gateway</title></head>"
    "<body><center><h1>502 Bad Gateway</h1></center></body></html>"
)
DEFAULT_FAULTSTRING = (
    "{ОбщийМодуль.ExtranetBridgeСервер.Модуль(214)}: Конфликт блокировок при выполнении транзакции:\n"
    "Превышено максимальное время ожидания предоставления блокировки"
)


@dataclass
class Fault:
    kind: str
    operations: frozenset[str] | None = None
    """None = every SOAP operation; the name "wsdl" covers the ?wsdl download."""
    count: int | None = 1
    """How many calls it hits; None = until cleared."""
    delay_seconds: float = 2.0
    message: str | None = None

    def matches(self, operation: str) -> bool:
        return self.operations is None or operation in self.operations

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "operations": sorted(self.operations) if self.operations is not None else None,
            "count": self.count,
            "delaySeconds": self.delay_seconds,
            "message": self.message,
        }


@dataclass
class FaultProfile:
    faults: list[Fault] = field(default_factory=list)

    def add(self, fault: Fault) -> None:
        if fault.kind not in KINDS:
            raise ValueError(f"unknown fault kind {fault.kind!r}; known: {', '.join(KINDS)}")
        self.faults.append(fault)

    def clear(self) -> None:
        self.faults.clear()

    def take(self, operation: str) -> Fault | None:
        """The first fault set for ``operation``; spends one of its calls."""
        for fault in self.faults:
            if fault.matches(operation):
                if fault.count is not None:
                    fault.count -= 1
                    if fault.count <= 0:
                        self.faults.remove(fault)
                return fault
        return None
