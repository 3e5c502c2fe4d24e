"""Network services: the public de-identification service and the private re-identification service.

Each service package only translates transport (REST, gRPC, Redis Streams) into calls of the core in
``shared/``; ``services.common`` holds the plumbing both share.
"""
