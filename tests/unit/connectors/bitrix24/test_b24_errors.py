"""The classification table: one row per entry, each with the action the style brief fixes (§3)."""

from __future__ import annotations

import logging

import pytest

from connectors.bitrix24.errors import (
    TABLE,
    Action,
    Bitrix24TerminalError,
    Bitrix24TransientError,
    api_error,
    classify,
)
from connectors.errors import Terminal, Transient

# (HTTP status or None for a batch entry, error code, description, expected action)
CASES = [
    (503, "QUERY_LIMIT_EXCEEDED", "Too many requests", Action.RATE_LIMITED),
    (429, "QUERY_LIMIT_EXCEEDED", "Too many requests", Action.RATE_LIMITED),
    (429, "OPERATION_TIME_LIMIT", "Method is blocked due to operation time limit.", Action.METHOD_BLOCKED),
    (401, "expired_token", "The access token provided has expired.", Action.REFRESH_TOKEN),
    (401, "invalid_token", "Unable to get application by token", Action.REFRESH_TOKEN),
    (401, "NO_AUTH_FOUND", "Wrong authorization data", Action.FAIL_CONFIG),
    # b24pysdk tests/integration/errors/test_errors.py: a wrong webhook code on a real portal
    (401, "INVALID_CREDENTIALS", "Invalid request credentials", Action.FAIL_CONFIG),
    (401, "authorization_error", "Unable to authorize user", Action.FAIL_CONFIG),
    # the docs say 403, the SDK 401: both are a missing scope
    (401, "insufficient_scope", "", Action.FAIL_CONFIG),
    (403, "allowed_only_intranet_user", "Action allowed only for intranet users", Action.FAIL),
    (403, "ALLOWED_ONLY_INTRANET_USER", "", Action.FAIL),
    (400, "ERROR_NO_GROUP", "Group specified incorrectly", Action.FAIL),
    (400, "invalid_grant", "refresh token expired", Action.FAIL_CONFIG),
    (401, "invalid_client", "", Action.FAIL_CONFIG),
    (403, "INVALID_CREDENTIALS", "Invalid request credentials", Action.FAIL_CONFIG),
    (403, "insufficient_scope", "", Action.FAIL_CONFIG),
    (403, "WRONG_AUTH_TYPE", "", Action.FAIL_CONFIG),
    (403, "user_access_error", "", Action.FAIL_CONFIG),
    (401, "METHOD_CONFIRM_WAITING", "", Action.FAIL_CONFIG),
    (403, "METHOD_CONFIRM_DENIED", "", Action.FAIL_CONFIG),
    (503, "OVERLOAD_LIMIT", "REST API is blocked due to overload.", Action.FAIL_CONFIG),
    (500, "PORTAL_DELETED", "Portal was deleted", Action.FAIL_CONFIG),
    (400, "INVALID_REQUEST", "Https required.", Action.FAIL_CONFIG),
    (404, "ERROR_METHOD_NOT_FOUND", "Method not found!", Action.FAIL_CONFIG),
    (400, "ERROR_ARGUMENT", "A user with this email already exists", Action.QUARANTINE),
    (400, "ERROR_ARGUMENT", "wrong_email", Action.QUARANTINE),
    (400, "ERROR_ARGUMENT", "invalid_type_field", Action.QUARANTINE),
    (400, "ERROR_BATCH_LENGTH_EXCEEDED", "Max batch length exceeded", Action.FAIL),
    (405, "ERROR_BATCH_METHOD_NOT_ALLOWED", "Method is not allowed for batch usage", Action.FAIL),
    (400, "ERROR_ARGUMENT", "no_extranet_field", Action.FAIL),
    (400, "ERROR_CORE", "access_denied", Action.FAIL),
    (403, "ACCESS_DENIED", "Access denied! Application context required", Action.FAIL_CONFIG),
    (403, "ACCESS_DENIED", "REST is available only on commercial plans.", Action.FAIL),
    (500, "INTERNAL_SERVER_ERROR", "Internal server error", Action.RETRY),
    (500, "ERROR_UNEXPECTED_ANSWER", "", Action.RETRY),
    (400, "SOMETHING_ELSE", "", Action.FAIL),
    (403, "", "", Action.FAIL),
    (404, "ERROR_NOT_FOUND", "", Action.FAIL),
    (405, "", "", Action.FAIL),
    (500, "", "", Action.RETRY),
    (502, "", "", Action.RETRY),
    (503, "", "", Action.RETRY),
    (504, "", "", Action.RETRY),
]


@pytest.mark.parametrize(("status", "code", "description", "action"), CASES)
def test_each_row_resolves_to_its_action(status: int, code: str, description: str, action: Action) -> None:
    resolution = classify(status, code, description)
    assert resolution.action is action
    assert resolution.mapped


def test_every_table_row_is_exercised_by_a_case() -> None:
    hit = {
        next(i for i, rule in enumerate(TABLE) if rule.matches(status, code, description))
        for status, code, description, _ in CASES
    }
    assert sorted(set(range(len(TABLE))) - hit) == []


@pytest.mark.parametrize(
    ("code", "description", "action"),
    [
        ("QUERY_LIMIT_EXCEEDED", "", Action.RATE_LIMITED),
        ("OPERATION_TIME_LIMIT", "", Action.METHOD_BLOCKED),
        ("insufficient_scope", "", Action.FAIL_CONFIG),
        ("ERROR_ARGUMENT", "A user with this email already exists", Action.QUARANTINE),
        ("ERROR_CORE", "", Action.FAIL),
        ("expired_token", "", Action.REFRESH_TOKEN),
    ],
)
def test_batch_entries_classify_by_code_alone(code: str, description: str, action: Action) -> None:
    assert classify(None, code, description).action is action


def test_description_match_ignores_case() -> None:
    assert (
        classify(400, "error_argument", "A USER WITH THIS EMAIL ALREADY EXISTS").action is Action.QUARANTINE
    )


def test_unmapped_is_a_limited_retry_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="connectors.bitrix24.errors"):
        resolution = classify(418, "TEAPOT", "")
        batch_entry = classify(None, "SOMETHING_NEW", "")
    assert resolution.action is Action.RETRY and not resolution.mapped
    assert not batch_entry.mapped
    assert "unmapped" in caplog.text


def test_errors_carry_markers_and_redacted_detail() -> None:
    transient = api_error(classify(503, "QUERY_LIMIT_EXCEEDED"), code="QUERY_LIMIT_EXCEEDED", status=503)
    terminal = api_error(
        classify(400, "ERROR_ARGUMENT", "wrong_email"),
        code="ERROR_ARGUMENT",
        description="wrong_email ivan.petrov@contractor.example",
        status=400,
        method="user.add",
    )
    assert isinstance(transient, Bitrix24TransientError) and isinstance(transient, Transient)
    assert isinstance(terminal, Bitrix24TerminalError) and isinstance(terminal, Terminal)
    assert terminal.action is Action.QUARANTINE
    assert "contractor.example" not in terminal.description
    assert "contractor.example" not in (terminal.internal or "")
    assert "user.add" in terminal.operator_message
