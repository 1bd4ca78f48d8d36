import atexit
import gc
from pathlib import Path

# Loading the definitions imports ~2,200 modules (dagster, dagster-dbt, dbt-core) and builds
# ~270,000 long-lived objects and almost no garbage. With the cyclic GC on, Python ran ~600
# collections over that growing heap while it loaded: ~0.2 s of a ~2.3 s load (median of
# eight fresh processes), paid by every code server reload and every run and step process.
# The GC is off for the load and back on after (unless the caller had it off).
# At exit it is turned off again: the interpreter's own finalization still collects (and so
# frees every cycle), but a collection that runs only with the GC on walked the whole loaded
# heap once more first (~0.25 s of every exit: code server, run and step processes).
# (gc.freeze() after the load would save ~0.85 s, but DuckDB's objects stay in uncollected
# cycles at exit and nanobind prints "leaked N instances!" from every process that used it.)
_gc_was_enabled = gc.isenabled()
gc.disable()
try:
    import dagster as dg

    defs = dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
    atexit.register(gc.disable)
finally:
    if _gc_was_enabled:
        gc.enable()
