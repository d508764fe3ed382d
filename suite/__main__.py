"""`python -m suite ...`: dispatch to the CLI."""

import sys

from suite.cli import main

sys.exit(main())
