"""``python -m servingbench``."""

import sys

from servingbench.cli import main

sys.exit(main())
