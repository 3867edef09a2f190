"""REST (HTTP/1.1 + JSON) for the engine: a generic transcoder in front of the gRPC handlers.

``rules`` reads the ``google.api.http`` rules shipped with the client library, ``transcode``
turns an HTTP request into the request message those rules describe (and a response message
into JSON), ``errors`` gives Google's JSON error shape, ``app`` is the aiohttp handler that ties
them to the very handler objects the gRPC server serves.
"""
