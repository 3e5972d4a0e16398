"""Provider staff (the administration departments) become intranet employees of a mirrored department tree."""

from __future__ import annotations

from pathlib import Path

import yaml
from sqlalchemy import select

from config.wiring import open_bridge
from mappings import DEFAULT_MAPPING
from store.models import IdentityLink
from sync import run
from tests.integration.sync.conftest import TODAY, World


async def test_administration_is_mirrored_as_intranet_departments(world: World, tmp_path: Path) -> None:
    departments = world.onec.knobs.pick("Department", n=1000)
    roots = [d["ref"] for d in departments if d["name"] == "Администрация" and d["parent_ref"] is None]
    assert roots, "the generated company has administration departments"
    mapping = yaml.safe_load(DEFAULT_MAPPING.read_text(encoding="utf-8"))
    mapping["intranet"] = {"department_refs": roots, "parent_id": 1}
    path = tmp_path / "mapping.yaml"
    path.write_text(yaml.safe_dump(mapping, allow_unicode=True), encoding="utf-8")
    settings = world.settings.model_copy(
        update={"sync": world.settings.sync.model_copy(update={"mapping": str(path)})}
    )
    bridge = open_bridge(settings, world.store)
    try:
        ctx = bridge.sync_context(TODAY)
        first = await run.full(ctx)
        assert first.applied is not None and first.applied.failed == 0
        again = await run.full(ctx)
        assert again.plan.operations == []
        drift = await run.reconcile(ctx, dry_run=True)
        assert [d.kind for d in drift.drift] == [] and drift.plan.operations == []
    finally:
        await bridge.close()

    portal = {int(d["ID"]): d for d in world.b24.knobs.departments()}
    with world.store.sessions() as session:
        mirrored = dict(
            session.execute(
                select(IdentityLink.source_ref, IdentityLink.b24_id).where(IdentityLink.kind == "intranet")
            ).all()
        )
    live = [d for d in departments if not d["disbanded_on"] or d["disbanded_on"] > TODAY.isoformat()]
    subtree = {d["ref"] for d in live if d["ref"] in roots or d["parent_ref"] in roots}
    assert subtree <= set(mirrored)
    for d in departments:
        if d["ref"] in mirrored:
            row = portal[int(mirrored[d["ref"]] or 0)]
            assert row["NAME"] == d["name"]
            expected_parent = 1 if d["ref"] in roots else int(mirrored[d["parent_ref"]] or 0)
            assert int(row["PARENT"]) == expected_parent
    staff = [
        u
        for u in world.b24.knobs.users()
        if u["fields"].get("XML_ID") and u["fields"].get("USER_TYPE") == "employee"
    ]
    extranet = [u for u in world.b24.knobs.users() if u["fields"].get("USER_TYPE") == "extranet"]
    assert staff and extranet, "expected both provider staff (intranet) and outsourced staff (extranet)"
    dept_ids = {int(v or 0) for v in mirrored.values()}
    assert all(set(u["fields"]["UF_DEPARTMENT"]) <= dept_ids for u in staff)
