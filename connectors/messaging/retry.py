"""Retrying a send with backoff — only when the failure is ``MessagingUnavailable`` (gateway down, 5xx,
connect timeout) and the message surely did not go out. Terminal errors, sending limits and answers
lost after the request was sent go straight back to the caller (the outbox decides later).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt
from tenacity.wait import wait_exponential

from connectors.messaging.port import MessagingFailure, MessagingUnavailable

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a transient failure is retried in place."""

    attempts: int = 3
    """Total tries, the first included."""
    initial_delay: float = 1.0
    """Seconds before the second try; doubles each time (0 in tests)."""
    max_delay: float = 20.0

    async def run(self, send: Callable[[], Awaitable[T]]) -> T:
        """Await ``send()``, retrying MessagingUnavailable with exponential backoff; re-raises the last."""
        retrying = AsyncRetrying(
            retry=retry_if_exception(_worth_retrying),
            stop=stop_after_attempt(max(1, self.attempts)),
            wait=wait_exponential(multiplier=self.initial_delay, max=self.max_delay),
            before_sleep=_log_retry,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await send()
        raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover


def _worth_retrying(error: BaseException) -> bool:
    return isinstance(error, MessagingUnavailable) and not error.maybe_delivered


def _log_retry(state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    if isinstance(error, MessagingFailure):
        log.warning(
            "messaging.retry",
            extra={"channel": error.channel, "code": error.code, "attempt": state.attempt_number},
        )
