"""The gateway reads batch sections whether Bitrix24 sends them as JSON arrays or objects.

A portal json_encodes PHP arrays: command keys 0..n-1 in order come back as arrays, other keys as
objects (fast-bitrix24 tests/real_responses/crm_get_batch_of_two_error.py and
crm_get_batch_mix_success_and_errors.py; bitrix24-rest.md §7).
"""

from __future__ import annotations

from collections.abc import Callable

from connectors.bitrix24.errors import Action, Bitrix24ApiError
from connectors.bitrix24.gateway import Bitrix24Gateway
from connectors.bitrix24.port import Call
from sandbox.bitrix24.testing import RunningSandbox

MakeGateway = Callable[..., Bitrix24Gateway]


async def test_numbered_labels_whose_sections_are_arrays(
    sb: RunningSandbox, make_gateway: MakeGateway
) -> None:
    calls = [
        Call("server.time", {}, label="0"),
        Call("user.add", {"EMAIL": "not-an-email", "UF_DEPARTMENT": [1]}, label="1"),
        Call("user.current", {}, label="2"),
    ]
    async with make_gateway(sb.webhook_url) as gateway:
        outcomes = await gateway.batch(calls)
        both_fail = await gateway.batch(
            [Call("user.add", {"EMAIL": "x", "UF_DEPARTMENT": [1]}, label=str(i)) for i in range(2)]
        )
    assert outcomes[0].ok and outcomes[2].ok and outcomes[2].result["ID"] == "1"
    error = outcomes[1].error
    assert isinstance(error, Bitrix24ApiError) and error.action is Action.QUARANTINE
    # result_error comes back as an array of two here: each entry still reaches its own call
    codes = [o.error.code for o in both_fail if isinstance(o.error, Bitrix24ApiError)]
    assert codes == ["ERROR_ARGUMENT", "ERROR_ARGUMENT"]
