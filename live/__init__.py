"""The live engine: bridge feed → Analyzer → recorder and publishers, on one event loop.

Data flows one way: transport → :mod:`firmware_bridge` → this package (the
:class:`~live.pipeline.LivePipeline` feeds the :class:`~analysis.analyzer.Analyzer`, the
recorder and the :class:`~live.hub.LiveHub`) → :mod:`dashboard`, which only subscribes to
the hub and draws.
"""
