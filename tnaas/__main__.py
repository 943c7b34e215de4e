"""`python -m tnaas`: the command line (see `tnaas.cli`)."""

import sys

from tnaas.cli import main

sys.exit(main())
