"""Adapters: real implementations of ``shared.ports`` (Redis, S3). The core never imports these."""
