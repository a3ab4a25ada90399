"""The benchmark's classifiers: one registry (``registry``), one interface (``protocols``).

This ``__init__`` imports nothing: a model module that imports ``benchmark.models.protocols``
must not pull in the registry (which names it), or the package would import itself in a
circle. Use ``benchmark.models.registry`` for ``get_model``, ``list_models`` and ``register``.
"""
