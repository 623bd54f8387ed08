"""`make bench`: run every benchmark module in bench/ (each has `main() -> None`) in turn.

`python -m bench NAME ...` runs only the named ones. Figures go to stdout and to
bench/results/<name>.json; docs/benchmarks.md records them with the machine.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    here = Path(__file__).parent
    names = sorted(m.name for m in pkgutil.iter_modules([str(here)]) if not m.name.startswith("_"))
    chosen = argv or names
    for name in chosen:
        if name not in names:
            print(f"bench: no benchmark {name!r}; have {', '.join(names)}", file=sys.stderr)
            return 2
    for name in chosen:
        print(f"== bench {name} ==", flush=True)
        importlib.import_module(f"bench.{name}").main()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
