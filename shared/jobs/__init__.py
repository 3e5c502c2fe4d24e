"""Job processing on top of the queue and job-store ports (transport-free)."""
