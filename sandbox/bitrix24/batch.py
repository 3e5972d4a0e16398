"""``batch``: up to 50 sub-calls run in order, with ``$result[...]`` references and ``halt``.

Owns the batch request/response shapes. Sources: bitrix24-rest.md §7 (settings/how-to-call-rest-api/batch.md,
data-encoding.md): ``cmd`` object or array of ``method?query``; max 50 else ERROR_BATCH_LENGTH_EXCEEDED (400);
nested batch and file up/download methods → ERROR_BATCH_METHOD_NOT_ALLOWED; outer HTTP 200 with per-command
``result_error``; ``halt`` stops at the first error; empty sections are ``[]``; the outer call is not
counted in ``operating`` but each command spends its own method's operating time (§7, §8.2).

Sections are PHP arrays put through json_encode: keys 0..n-1 in order come out as a JSON array, any
other keys as an object. So ``cmd`` given as a list (or keyed "0".."n-1") answers arrays — fast-bitrix24
tests/real_responses/crm_get_batch_of_two_error.py (``result_error`` a list of two errors) and
crm_get_batch_mix_success_and_errors.py (``result`` an object, ``result_error`` a list, side by side);
b24pysdk b24pysdk/api/responses/bitrix_api_batch_response.py accepts both shapes for every section.
The outer ``time`` carries ``operating`` like any call (fast-bitrix24 batch_list_empty.py,
crm_get_batch_of_two_error.py); an empty page of any list method reports ``result_total {key: 0}``
(batch_list_empty.py, a crm list).
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from sandbox.bitrix24.core import Caller, RestError
from sandbox.bitrix24.envelope import Timing, error_body, time_block
from sandbox.bitrix24.limits import BUCKET_SECONDS, WINDOW_BUCKETS
from sandbox.bitrix24.params import parse_query

if TYPE_CHECKING:
    from sandbox.bitrix24.dispatch import Dispatcher, Outcome

MAX_COMMANDS = 50
# §7: batch itself and file upload/download methods may not run inside batch.
NOT_IN_BATCH = frozenset(
    {
        "batch",
        "disk.folder.uploadfile",
        "disk.storage.uploadfile",
        "disk.file.uploadversion",
        "disk.file.download",
    }
)
# Bitrix's CRestUtil::processBatchElement: ``$<section>`` then everything up to the next whitespace; the
# sections are the keys of CRestProvider::methodsBatch's $arResult (result, next, total, time, error).
_REF = re.compile(r"\$(result|next|total|time|error)(\S*)", re.IGNORECASE)
_KEY = re.compile(r"\[([^\]]+)\]")
_PHP_NUMERIC = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() in {"1", "true", "y"}


def _step(node: Any, key: str) -> tuple[bool, Any]:
    """PHP ``isset($node[$key])`` and the value found: set and not null."""
    if isinstance(node, dict):
        value = node.get(key)
    elif isinstance(node, list | str) and key.isdigit() and int(key) < len(node):
        value = node[int(key)]
    else:
        return False, None
    return value is not None, value


def _resolve(sections: dict[str, Any], section: str, keys: list[str]) -> Any:
    """Walk the keys as far as they exist and return the deepest node reached: a missing key stops the walk
    there, it does not empty the value (so ``$result[p0][49][ID]`` on a page of 20 rows is that page)."""
    node = sections.get(section)  # PHP array keys are case-sensitive: ``$RESULT[...]`` finds nothing
    for key in keys:
        found, value = _step(node, key)
        if not found:
            break
        node = value
    return node


def _numeric(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    return isinstance(value, str) and _PHP_NUMERIC.fullmatch(value) is not None


def _substitute(value: Any, sections: dict[str, Any]) -> Any:
    """Resolve ``$result[label][key]…`` (and ``$next``, ``$total``, ``$time``, ``$error``) in a decoded
    parameter value as Bitrix's CRestUtil::processBatchStructure/processBatchElement do (bitrix24-rest.md
    §7; [S] rest/classes/general/rest_util.php): a reference that is the whole value becomes the node
    reached, of any type; one inside a longer string is replaced by that node only when it is a string or
    a number, and otherwise stays as written. Parameter names are not resolved here."""
    if isinstance(value, dict):
        return {k: _substitute(v, sections) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, sections) for v in value]
    if not isinstance(value, str) or "$" not in value:
        return value
    for match in list(_REF.finditer(value)):
        keys = _KEY.findall(match.group(2))
        if not keys:
            continue
        node = _resolve(sections, match.group(1), keys)
        if match.group(0) == value:
            return node
        if _numeric(node):
            node = str(node)
        if isinstance(node, str):
            value = value.replace(match.group(0), node)
    return value


def _commands(params: dict[str, Any]) -> list[tuple[str, str]]:
    cmd = params.get("cmd")
    if cmd is None:
        cmd = params.get("CMD")
    if isinstance(cmd, dict):
        return [(str(k), str(v)) for k, v in cmd.items()]
    if isinstance(cmd, list):
        return [(str(i), str(v)) for i, v in enumerate(cmd)]
    raise RestError("ERROR_ARGUMENT", "cmd is empty", 400)


def _section(data: dict[str, Any]) -> dict[str, Any] | list[Any]:
    """PHP json_encode of an array: a list when the keys are 0..n-1 in order (empty → ``[]``, §7)."""
    if list(data) == [str(i) for i in range(len(data))]:
        return list(data.values())
    return data


def run_batch(dispatcher: Dispatcher, caller: Caller, params: dict[str, Any]) -> Outcome:
    from sandbox.bitrix24.dispatch import Outcome

    portal = dispatcher.portal
    now = portal.clock.now()
    wall = time.perf_counter()
    try:
        commands = _commands(params)
        if len(commands) > MAX_COMMANDS:
            raise RestError("ERROR_BATCH_LENGTH_EXCEEDED", "Max batch length exceeded", 400)
    except RestError as exc:
        return Outcome(exc.status, error_body(exc), exc.code, "batch")
    halt = _truthy(params.get("halt", False))
    results: dict[str, Any] = {}
    errors: dict[str, Any] = {}
    totals: dict[str, Any] = {}
    nexts: dict[str, Any] = {}
    times: dict[str, Any] = {}
    for label, command in commands:
        raw_name, _, query = command.partition("?")
        name = unquote(raw_name).strip().lower()
        name = name[:-5] if name.endswith(".json") else name
        if name in NOT_IN_BATCH:
            refused = RestError(
                "ERROR_BATCH_METHOD_NOT_ALLOWED", "Method is not allowed for batch usage", 405
            )
            errors[label] = error_body(refused)
        else:
            sections = {"result": results, "next": nexts, "total": totals, "time": times, "error": errors}
            sub = _substitute(parse_query(query), sections)
            outcome = dispatcher.run_method(caller, name, sub, in_batch=True)
            if outcome.error is None:
                body = outcome.body
                results[label] = body["result"]
                if "total" in body or outcome.zero_total:
                    totals[label] = body.get("total", 0)
                if "next" in body:
                    nexts[label] = body["next"]
                times[label] = body["time"]
            else:
                errors[label] = outcome.body
        if errors and halt:
            break
    processing = time.perf_counter() - wall
    body = {
        "result": {
            "result": _section(results),
            "result_error": _section(errors),
            "result_total": _section(totals),
            "result_next": _section(nexts),
            "result_time": _section(times),
        },
        # §7: the outer call spends no operating time of its own, but its time block carries the keys
        # (fast-bitrix24 batch_list_empty.py: "operating": 0), operating_reset_at as for any call.
        "time": time_block(
            Timing(now, now + processing, processing, 0, int(now) + WINDOW_BUCKETS * BUCKET_SECONDS)
        ),
    }
    return Outcome(200, body, None, "batch")
