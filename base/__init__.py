"""The base layer: what every other package may import, and which imports none of them.

Frames (:mod:`base.frames`), user-facing errors (:mod:`base.errors`), the data directory
(:mod:`base.paths`), the version (:mod:`base.version`) and the wire format shared by the
device side and the host (:mod:`base.wire`). See ``docs/architecture.md``.
"""
