"""``python3 -m servingbench.envs NAME REQUIREMENTS``: create (first use) or locate a cached environment."""

import sys

from servingbench.envs.venvs import main

sys.exit(main())
