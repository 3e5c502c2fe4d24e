"""Container health probe: exits 0 when the process answers its liveness endpoint, 1 otherwise.

Usage: uunet-healthcheck public|private api|worker. The port comes from the same env vars the
service reads (UUNET_<SIDE>_HTTP_PORT / UUNET_<SIDE>_METRICS_PORT), defaulting as in the services.
Stdlib only: the slim images carry no curl.
"""

import os
import sys
import urllib.request

DEFAULTS = {
    ("public", "api"): ("HTTP_PORT", 8080, "/healthz"),
    ("public", "worker"): ("METRICS_PORT", 9100, "/metrics"),
    ("private", "api"): ("HTTP_PORT", 8081, "/healthz"),
    ("private", "worker"): ("METRICS_PORT", 9101, "/metrics"),
}


def probe_url(side: str, role: str) -> str:
    """The local URL to probe for one side and role."""
    var, default, path = DEFAULTS[(side, role)]
    port = int(os.environ.get(f"UUNET_{side.upper()}_{var}", default))
    return f"http://127.0.0.1:{port}{path}"


def main(argv: list[str]) -> int:
    """Probe once; the exit status is the health verdict."""
    if len(argv) != 2 or tuple(argv) not in DEFAULTS:
        sys.stderr.write("usage: uunet-healthcheck public|private api|worker\n")
        return 2
    try:
        with urllib.request.urlopen(probe_url(argv[0], argv[1]), timeout=4) as response:
            return 0 if response.status == 200 else 1
    except OSError as exc:
        sys.stderr.write(f"unhealthy: {exc}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
