"""The video pipeline: de-identify a clip into a signed public stream, and restore it."""
