"""The ``uunet`` command line: a composition root per command, translating arguments to core calls."""
