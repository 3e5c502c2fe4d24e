"""Core library of the UU-Net product: model, video pipeline, crypto, domain types and ports.

Nothing in this package (outside ``shared.adapters`` and ``shared.devstack``) imports FastAPI, gRPC,
Redis or the S3 client: those live behind the Protocols in ``shared.ports``.
"""

__version__ = "0.1.0"
