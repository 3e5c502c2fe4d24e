"""Real local servers (redis-server, SeaweedFS S3) on loopback, for tests and ``uunet up``."""
