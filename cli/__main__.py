"""`python -m cli`, and `python cli` from a checkout (samples, bench and tests start the engine that way)."""

import sys
from pathlib import Path

if not __package__:  # run as a directory: import the checkout's package, not this folder's modules as top-level ones
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

from cli import main

sys.exit(main())
