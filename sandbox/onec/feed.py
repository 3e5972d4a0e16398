"""The exchange-plan change feed of the bridge's node (ПланОбмена.ОбменExtranetBridge), emulated.

Owns the registration table and the message numbers, with the platform's semantics (onec-zup.md §3.1):
registrations are state-based (one row per object, whatever the number of edits); an ack deletes the
rows stamped with a number ≤ ack; selection stamps unstamped rows with SentNo+1; a row registered again
after it was sent loses its stamp, so an ack of the older message cannot drop the newer change. Payloads
are built by the caller from the object's current state at send time.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Pending:
    entity: str
    ref: str
    message_no: int
    """0 while unstamped."""


@dataclass
class Selection:
    message_no: int
    items: list[Pending]
    has_more: bool
    error: str | None = None


@dataclass
class ExchangeFeed:
    sent_no: int = 0
    received_no: int = 0
    rows: dict[tuple[str, str], int] = field(default_factory=dict)
    """(entity, ref) → message number (0 = not yet sent); dict order = order of registration."""

    def register(self, entity: str, ref: str) -> None:
        """ЗарегистрироватьИзменения: (re)register an object; a re-registration clears the stamp."""
        key = (entity, ref)
        self.rows.pop(key, None)  # re-registration moves the row to the end, unstamped
        self.rows[key] = 0

    def acknowledge(self, ack: int) -> None:
        """УдалитьРегистрациюИзменений(Узел, ack): drop every row stamped with a number ≤ ack."""
        if ack <= 0:
            return
        self.received_no = max(self.received_no, ack)
        for key in [k for k, no in self.rows.items() if 0 < no <= ack]:
            del self.rows[key]

    def select(self, ack: int, max_items: int) -> Selection:
        """Acknowledge, then ВыбратьИзменения: up to ``max_items`` rows stamped with SentNo+1."""
        if ack > self.sent_no:
            return Selection(self.sent_no, [], False, "ACK_OUT_OF_RANGE")
        self.acknowledge(ack)
        self.sent_no += 1
        no = self.sent_no
        chosen: list[Pending] = []
        for key, stamp in self.rows.items():
            if len(chosen) >= max_items:
                break
            if stamp == 0:
                self.rows[key] = no
            chosen.append(Pending(key[0], key[1], stamp or no))
        return Selection(no, chosen, len(self.rows) > len(chosen))

    def reset(self) -> None:
        self.rows.clear()

    def stats(self) -> dict[str, int]:
        stamped = sum(1 for no in self.rows.values() if no)
        return {
            "sentNo": self.sent_no,
            "receivedNo": self.received_no,
            "pending": len(self.rows),
            "stamped": stamped,
        }
