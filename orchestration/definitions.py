import gc
from pathlib import Path

# Loading the definitions imports ~2,200 modules (dagster, dagster-dbt, dbt-core) and builds
# ~270,000 long-lived objects and almost no garbage. With the cyclic GC on, Python ran ~600
# collections over that growing heap while it loaded: ~0.2 s of a ~2.3 s load (median of
# eight fresh processes), paid by every code server reload and every run and step process.
# The GC is off for the load and back on after (unless the caller had it off).
# What the load built lives as long as the process, so it is then frozen (gc.freeze: the
# permanent generation, which no collection walks). Otherwise every full collection walks it
# again, the interpreter's exit ran four of them (~0.55 s of a ~3 s process), and so did
# every step process.
_gc_was_enabled = gc.isenabled()
gc.disable()
try:
    import dagster as dg

    defs = dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
    gc.freeze()
finally:
    if _gc_was_enabled:
        gc.enable()
