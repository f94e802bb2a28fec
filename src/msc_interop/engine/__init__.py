"""Where work runs beyond this process: a Dask cluster (`--engine dask`), local or existing (cluster.py), and
NDJSON cut into partitions for its workers (partitions.py). dask is imported only when a command asks for it."""
