"""The bundled local engine: the Cloud Tasks v2 gRPC API on a durable SQLite store.

Modules: ``config`` (settings), ``store``/``records``/``migrations`` (SQLite, group commit),
``validation`` (request checks and service defaults), ``server`` (the gRPC servicer),
``operations``/``locations`` (LROs and the Locations mixin), ``http_side`` (the side port),
``runtime`` (the ``Engine`` object and its lifecycle) and ``daemon`` (background start/stop).
"""
