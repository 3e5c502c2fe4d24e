"""Only domain errors leave the pipeline: codec, I/O and runtime failures become one-line reasons."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import av

from shared.domain.errors import BadInputError, ConfigError, UUNetError

log = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return (text.splitlines()[0] if text else type(err).__name__)[:160]


def guarded(what: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a pipeline entry point so that nothing but a UUNetError escapes it."""

    def wrap(fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def inner(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return fn(*args, **kwargs)
            except UUNetError:
                raise
            except av.FFmpegError as err:
                raise BadInputError(f"{what} failed in the codec: {_first_line(err)}") from err
            except OSError as err:
                raise ConfigError(f"{what} failed on a file: {_first_line(err)}") from err
            except MemoryError as err:
                raise BadInputError(f"{what} ran out of memory") from err
            except Exception as err:  # torch/numpy failures or a bug: detail to the log only
                # The traceback goes to debug (``uunet -v``); users see one line.
                log.debug("%s failed", what, exc_info=True)
                raise UUNetError(
                    f"{what} failed ({type(err).__name__}: {_first_line(err)})"
                ) from err

        return inner

    return wrap
