"""The bundled local engine: the Cloud Tasks v2 API (gRPC and REST) on a durable SQLite store.

Modules: ``config`` (settings); ``store`` (group-committed SQLite), ``records`` (row-level
operations), ``migrations`` (numbered schema), ``task_ids`` (generated IDs); ``validation``
(request checks and the service's defaults); ``server`` (queue/task/batch RPCs), ``admin``
(IAM, CMEK, operations, locations), ``rpc`` (error mapping), ``operations`` and ``locations``;
``http_side`` (the side port); ``public_port`` (gRPC and REST on one port, told apart by
their first bytes: ``preface``), ``grpc_front`` (unary gRPC over HTTP/2 on the engine's
loop), ``eager`` (a handler starts as its request is read), ``rest`` (REST transcoded onto the
gRPC handlers); ``shared_port`` and ``relay_process`` (the ``TASKSCTL_ENGINE_GRPC=grpcio``
fallback: grpc.aio behind a relay); ``runtime`` (the ``Engine`` and its lifecycle);
``preload`` (the start-up hook that ``--queues`` uses); ``main`` (the engine's own entry point,
``python -m tasksctl.engine run``).

The engine stands alone: it imports nothing from ``tasksctl.cli``, ``client``, ``settings``,
``declarative``, ``output`` or ``render`` (tests/unit/test_layers.py). Starting it in the
background is ``tasksctl.launcher``'s job.
"""
