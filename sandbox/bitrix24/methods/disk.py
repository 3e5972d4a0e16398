"""``disk.*``: storages, folders and file uploads (base64 ``fileContent``), enough to attach PDFs.

Owns the drive records (a common storage, one per user and per group, the app's storage) and the
documented answers of storage getlist/get/getforapp/getchildren and folder addsubfolder/getchildren/
uploadfile (+ storage uploadfile). ``read_file(portal, id)`` is the sandbox-only way to read an upload.
Sources: ../shared/reference/bitrix24-rest.md §1.4 (camelCase params), §10.2; api-reference/disk/**.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from dataclasses import dataclass, field
from typing import Any

from sandbox.bitrix24.core import CallContext, Page, RestError, method
from sandbox.bitrix24.procs_common import (
    as_int,
    as_list,
    filter_rows,
    is_admin,
    iso,
    lock,
    now,
    order_rows,
    paged,
    slot,
    yes,
)


@dataclass
class Storage:
    id: int
    name: str
    entity_type: str
    """user | group | common | restapp (disk-storage-get-list.md)."""
    entity_id: str
    root_id: int
    code: str | None = None


@dataclass
class Node:
    id: int
    name: str
    kind: str
    """folder | file"""
    storage_id: int
    parent_id: int | None
    created_by: int
    created: float
    content: bytes = b""
    file_id: int | None = None


@dataclass
class DiskState:
    storages: dict[int, Storage] = field(default_factory=dict)
    nodes: dict[int, Node] = field(default_factory=dict)
    next_storage: int = 1301
    next_node: int = 8801
    next_file: int = 32801


def _state(ctx_or_portal: Any) -> DiskState:
    portal = getattr(ctx_or_portal, "portal", ctx_or_portal)
    st = slot(portal, "disk", DiskState)
    known = {(s.entity_type, s.entity_id) for s in st.storages.values()}
    wanted = [("common", "shared_files_s1", "Shared drive")]
    wanted += [("user", str(uid), "My drive") for uid in portal.users]
    wanted += [("group", str(gid), str(g.fields.get("NAME") or gid)) for gid, g in portal.groups.items()]
    for entity_type, entity_id, name in wanted:
        if (entity_type, entity_id) not in known:
            _new_storage(portal, st, entity_type, entity_id, name)
    return st


def _new_storage(portal: Any, st: DiskState, entity_type: str, entity_id: str, name: str) -> Storage:
    root = Node(st.next_node, name, "folder", st.next_storage, None, 1, now(portal))
    storage = Storage(st.next_storage, name, entity_type, entity_id, root.id)
    st.next_node += 1
    st.next_storage += 1
    st.nodes[root.id] = root
    st.storages[storage.id] = storage
    return storage


def read_file(portal: Any, file_id: int) -> tuple[str, bytes] | None:
    """Sandbox-only: the name and bytes of an uploaded file."""
    with lock(portal):
        node = slot(portal, "disk", DiskState).nodes.get(file_id)
        return (node.name, node.content) if node is not None and node.kind == "file" else None


# -- rows ---------------------------------------------------------------------------------------------
def _storage_row(s: Storage) -> dict[str, Any]:
    return {
        "ID": str(s.id),
        "NAME": s.name,
        "CODE": s.code,
        "MODULE_ID": "disk",
        "ENTITY_TYPE": s.entity_type,
        "ENTITY_ID": s.entity_id,
        "ROOT_OBJECT_ID": str(s.root_id),
    }


def _node_row(portal: Any, n: Node) -> dict[str, Any]:
    """disk-folder-upload-file.md / disk-folder-add-subfolder.md response objects."""
    row: dict[str, Any] = {
        "ID": n.id,
        "NAME": n.name,
        "CODE": None,
        "STORAGE_ID": str(n.storage_id),
        "TYPE": n.kind,
        "PARENT_ID": str(n.parent_id) if n.parent_id else None,
        "DELETED_TYPE": 0,
        "CREATE_TIME": iso(n.created),
        "UPDATE_TIME": iso(n.created),
        "DELETE_TIME": None,
        "CREATED_BY": str(n.created_by),
        "UPDATED_BY": str(n.created_by),
        "DELETED_BY": None,
        "DETAIL_URL": f"{portal.public_url}/docs/path/{n.name}",
    }
    if n.kind == "folder":
        row["REAL_OBJECT_ID"] = n.id
    else:
        # §10.2: DOWNLOAD_URL carries a token (never log it).
        token = secrets.token_urlsafe(24)
        row.update(
            {
                "GLOBAL_CONTENT_VERSION": 1,
                "FILE_ID": n.file_id,
                "SIZE": str(len(n.content)),
                "DOWNLOAD_URL": f"{portal.public_url}/rest/download.json?token=disk|{n.id}|{token}",
            }
        )
    return row


def _visible(ctx: CallContext, s: Storage) -> bool:
    if is_admin(ctx) or s.entity_type in ("common", "restapp"):
        return True
    if s.entity_type == "user":
        return s.entity_id == str(ctx.caller.user_id)
    group = ctx.portal.groups.get(as_int(s.entity_id))
    return group is not None and ctx.caller.user_id in group.members


def _arg(n: int) -> RestError:
    return RestError("ERROR_ARGUMENT", f"Invalid value of parameter {{Parameter #{n}}}")


def _folder(ctx: CallContext, params: dict[str, Any], n: int = 0) -> Node:
    if params.get("id") in (None, ""):
        raise _arg(n)
    node = _state(ctx).nodes.get(as_int(params["id"], -1))
    if node is None or node.kind != "folder":
        raise RestError("ERROR_NOT_FOUND", f"Could not find entity with id `{params['id']}`")
    if not _visible(ctx, _state(ctx).storages[node.storage_id]):
        raise RestError("ACCESS_DENIED", "Access denied", 403)
    return node


# -- storages -----------------------------------------------------------------------------------------
@method("disk.storage.getlist", scope="disk", list_method=True)
def storage_getlist(ctx: CallContext, params: dict[str, Any]) -> Page:
    """disk-storage-get-list.md: storages the caller can see; ``filter``/``order``/``start``."""
    with lock(ctx.portal):
        rows = [_storage_row(s) for s in _state(ctx).storages.values() if _visible(ctx, s)]
        rows = filter_rows(rows, params.get("filter"), lambda r, k: r.get(k))
        rows = order_rows(rows, params.get("order") or {"ID": "asc"}, lambda r, k: r.get(k))
        return paged(rows, params.get("start"))


@method("disk.storage.get", scope="disk")
def storage_get(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any] | None:
    """disk-storage-get.md: ``id``*; null when ``id`` is not a number; ERROR_NOT_FOUND otherwise."""
    with lock(ctx.portal):
        if params.get("id") in (None, ""):
            raise _arg(0)
        if not str(params["id"]).strip().isdigit():
            return None
        storage = _state(ctx).storages.get(int(params["id"]))
        if storage is None:
            raise RestError("ERROR_NOT_FOUND", f"Could not find entity with id `{params['id']}`")
        if not _visible(ctx, storage):
            raise RestError("ACCESS_DENIED", "Access denied", 403)
        return _storage_row(storage)


@method("disk.storage.getforapp", scope="disk", app_only=True)
def storage_getforapp(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    """disk-storage-get-for-app.md: app context + admin; creates the app's storage on first call."""
    with lock(ctx.portal):
        if not is_admin(ctx):
            raise RestError("ACCESS_DENIED", "Access denied!", 403)
        st = _state(ctx)
        app_id = str(ctx.caller.client_id)
        found = next(
            (s for s in st.storages.values() if s.entity_type == "restapp" and s.entity_id == app_id), None
        )
        return _storage_row(found or _new_storage(ctx.portal, st, "restapp", app_id, "Application"))


@method("disk.storage.getchildren", scope="disk", list_method=True)
def storage_getchildren(ctx: CallContext, params: dict[str, Any]) -> Page:
    """disk-storage-get-children.md: the root folder's children."""
    with lock(ctx.portal):
        storage = _state(ctx).storages.get(as_int(params.get("id"), -1))
        if storage is None:
            raise RestError("ERROR_NOT_FOUND", f"Could not find entity with id `{params.get('id')}`")
        return _children(ctx, {**params, "id": storage.root_id})


# -- folders ------------------------------------------------------------------------------------------
def _children(ctx: CallContext, params: dict[str, Any]) -> Page:
    folder = _folder(ctx, params, 1)
    rows = [_node_row(ctx.portal, n) for n in _state(ctx).nodes.values() if n.parent_id == folder.id]
    rows = filter_rows(rows, params.get("filter"), lambda r, k: r.get(k))
    rows = order_rows(rows, params.get("order") or {"ID": "asc"}, lambda r, k: r.get(k))
    return paged(rows, params.get("start"))


@method("disk.folder.getchildren", scope="disk", list_method=True)
def folder_getchildren(ctx: CallContext, params: dict[str, Any]) -> Page:
    """disk-folder-get-children.md: ``id``*, ``filter``, ``order``, ``start``."""
    with lock(ctx.portal):
        return _children(ctx, params)


def _name_taken(st: DiskState, parent: Node, name: str) -> bool:
    return any(n.parent_id == parent.id and n.name.lower() == name.lower() for n in st.nodes.values())


@method("disk.folder.addsubfolder", scope="disk")
def folder_addsubfolder(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    """disk-folder-add-subfolder.md: ``id``*, ``data{NAME*}``; a taken name → DISK_OBJ_22000."""
    with lock(ctx.portal):
        parent = _folder(ctx, params)
        name = str((params.get("data") or {}).get("NAME") or "").strip()
        if not name:
            raise _arg(1)
        st = _state(ctx)
        if _name_taken(st, parent, name):
            raise RestError("DISK_OBJ_22000", "A folder with this name already exists")
        node = Node(
            st.next_node, name, "folder", parent.storage_id, parent.id, ctx.caller.user_id, now(ctx.portal)
        )
        st.next_node += 1
        st.nodes[node.id] = node
        return _node_row(ctx.portal, node)


def _upload(ctx: CallContext, params: dict[str, Any], parent: Node) -> dict[str, Any]:
    if ctx.extra.get("in_batch"):
        # §10.2 / §7: upload methods cannot run inside batch.
        raise RestError("ERROR_BATCH_METHOD_NOT_ALLOWED", "Method is not allowed for batch usage", 405)
    content = params.get("fileContent")
    if content in (None, ""):
        # §10.2: without fileContent the answer is a second-step upload URL (JSON key ``uploadUrl``).
        return {
            "field": "file",
            "uploadUrl": f"{ctx.portal.public_url}/rest/upload.json?token={secrets.token_hex(8)}",
        }
    name = str((params.get("data") or {}).get("NAME") or "").strip()
    if not name:
        raise RestError("DISK_BASE_SERVICE_22001", "Error: required parameter NAME (DISK_BASE_SERVICE_22001)")
    encoded = as_list(content)[-1] if isinstance(content, list | dict) else content
    try:
        raw = base64.b64decode(str(encoded), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise RestError("ERROR_COULD_NOT_SAVE_FILE", "Could not save file") from exc
    st = _state(ctx)
    if _name_taken(st, parent, name):
        if not yes(params.get("generateUniqueName")):
            raise RestError("DISK_OBJ_22000", "A file with this name already exists")
        stem, dot, ext = name.rpartition(".") if "." in name else (name, "", "")
        counter = 1
        while _name_taken(st, parent, f"{stem} ({counter}){dot}{ext}"):
            counter += 1
        name = f"{stem} ({counter}){dot}{ext}"
    node = Node(
        st.next_node,
        name,
        "file",
        parent.storage_id,
        parent.id,
        ctx.caller.user_id,
        now(ctx.portal),
        raw,
        st.next_file,
    )
    st.next_node += 1
    st.next_file += 1
    st.nodes[node.id] = node
    return _node_row(ctx.portal, node)


@method("disk.folder.uploadfile", scope="disk")
def folder_uploadfile(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    """§10.2: ``id``*, ``data{NAME}``, ``fileContent [name, base64]``, ``generateUniqueName``, ``rights``."""
    with lock(ctx.portal):
        return _upload(ctx, params, _folder(ctx, params))


@method("disk.storage.uploadfile", scope="disk")
def storage_uploadfile(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    """§10.2: the same upload into a storage's root (``id`` = storage id)."""
    with lock(ctx.portal):
        storage = _state(ctx).storages.get(as_int(params.get("id"), -1))
        if storage is None:
            raise RestError("ERROR_NOT_FOUND", f"Could not find entity with id `{params.get('id')}`")
        return _upload(ctx, params, _folder(ctx, {"id": storage.root_id}))
