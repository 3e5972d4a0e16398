"""What the sinks received: one JSON line per message, appended to a file so it survives restarts."""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path


@dataclass(frozen=True)
class Message:
    channel: str
    """email or sms"""
    sender: str
    to: list[str]
    subject: str
    text: str
    received_at: str


class Mailbox:
    """Thread-safe: the SMTP sink runs in its own thread, the SMS sink on the web server's loop."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._messages: list[Message] = []
        if path is not None and path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    self._messages.append(Message(**json.loads(line)))

    def add(self, channel: str, sender: str, to: list[str], subject: str, text: str) -> Message:
        message = Message(channel, sender, to, subject, text, datetime.now(UTC).isoformat(timespec="seconds"))
        with self._lock:
            self._messages.append(message)
            if self.path is not None:
                with self.path.open("a", encoding="utf-8") as out:
                    out.write(json.dumps(asdict(message), ensure_ascii=False) + "\n")
        return message

    def messages(self) -> list[Message]:
        with self._lock:
            return list(self._messages)
