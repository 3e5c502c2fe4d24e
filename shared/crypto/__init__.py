"""Key sets, manifest signatures and sealed originals."""
