"""Stage 3, export: jobs (:mod:`.jobs`), planning (:mod:`.plan`), one batch wherever it runs
(:mod:`.batch`), recording (:mod:`.record`), the stage (:mod:`.stage`) and its Dask graph
(:mod:`.dask_waves`, :mod:`.dask_tasks`)."""
