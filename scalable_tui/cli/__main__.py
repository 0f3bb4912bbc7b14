"""``python -m scalable_tui.cli``."""

import sys

from scalable_tui.cli import main

sys.exit(main())
