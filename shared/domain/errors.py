"""Typed domain errors. Each carries a one-line, user-facing reason (never face pixels or keys)."""


class UUNetError(Exception):
    """Base of every error the product raises on purpose; ``str(err)`` is a one-line reason."""


class BadInputError(UUNetError):
    """The input is not something we can process (empty, truncated, not a video, over a limit)."""


class LimitExceededError(BadInputError):
    """The input is valid but over a configured limit (size, dimensions, duration)."""


class TamperedError(UUNetError):
    """A signature or an authentication tag did not verify: the stream was edited or forged."""


class WrongKeyError(UUNetError):
    """The key given does not belong to this stream (key id mismatch or unwrap failure)."""


class NotFoundError(UUNetError):
    """An object or a job id that does not exist."""


class AuthError(UUNetError):
    """Credentials missing, expired, forged or without the needed scope."""


class ConfigError(UUNetError):
    """The process is misconfigured (a missing secret, an unreadable key file)."""


class UnavailableError(UUNetError):
    """A dependency (the object store, the queue) cannot be reached right now; retry later."""
