"""`python -m candour_cli.prestart <module>`: a service that imports now and starts on cue.

`candour dev` starts the four service processes while PostgreSQL and the broker are
still coming up: importing a service's code takes seconds of CPU, and it needs none
of them. Each process imports its service's `__main__`, says so, then waits for a
line on standard input: `go` runs the service's `main()` (which reads its settings
and connects, as `python -m <module>` does); anything else, or the end of input (the
supervisor gave up or died), exits without starting it.
"""

from __future__ import annotations

import importlib
import sys
import time

CUE = "go"


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: python -m candour_cli.prestart <service module>", file=sys.stderr)
        return 2
    module = sys.argv[1]
    started = time.monotonic()
    service = importlib.import_module(f"{module}.__main__")
    print(f"imported in {time.monotonic() - started:.1f}s; waiting for the platform", flush=True)
    if sys.stdin.readline().strip() != CUE:
        return 0
    sys.argv = [module]
    service.main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
