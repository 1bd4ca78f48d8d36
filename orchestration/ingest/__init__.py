"""Loading raw export files, without Dagster: the source specs (`sources*.py`), the pure
parser (`parsing.py`), the DuckDB fast path (`fast_reader.py`) and the loader that stores
rows, rejects and the load log (`loader.py`). The Dagster assets are in `defs/ingest/`.

Kept out of `defs/`: `load_from_defs_folder` imports every module there when the
definitions load, and these pull in numpy and pyarrow (~0.2 s) that only a run needs."""
