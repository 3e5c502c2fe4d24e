"""Hash-chained audit log of the private service: chain rules and an in-process log."""
