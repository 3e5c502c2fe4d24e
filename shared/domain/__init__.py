"""Domain types shared by the pipeline, the services and the CLI (stdlib only)."""
