"""The public de-identification service: REST and gRPC front ends and a worker, for camera vendors."""
