"""The session store: crash-safe recording, finalising, recovery, the catalog, imports.

Public API::

    from store.recorder import Recorder, RecorderStatus      # the bridge records with this
    from store.session import SessionMeta, FootLayout        # what a session is about
    from store.finalise import finalise_session, FinaliseReport
    from store.recovery import recover_interrupted
    from store.catalog import Catalog
    from store.importers import import_file, read_recording  # insoles and force plates
    from store.export import export_session, find_session

On-disk layout, schemas with units and guarantees: ``docs/storage.md``.
"""
