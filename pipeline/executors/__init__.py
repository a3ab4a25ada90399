"""Executors: one interface (:class:`~.base.Executor`) to run a stage's jobs inline, in a
process pool or on Dask; :mod:`.choose` picks one from the config and the source's facts."""
