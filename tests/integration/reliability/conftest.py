"""The reliability proofs reuse the mirror's world: both sandboxes over loopback and a fresh store."""

from tests.integration.sync.conftest import bridge, ctx, world

__all__ = ["bridge", "ctx", "world"]
