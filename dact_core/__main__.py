"""`python -m dact_core ...` is `dact ...` (and what `torchrun -m dact_core ...` runs)."""

import sys

from .cli import main

sys.exit(main())
