"""Entry-point wrapper for steps/*.py: bad input becomes one line on stderr and exit code 1."""
from __future__ import annotations

import sys
from typing import Callable

from avsr.utils.errors import AvsrInputError


def run_cli(main: Callable[[], None]) -> None:
    try:
        main()
    except AvsrInputError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        sys.exit(130)
