"""`python -m suite ...`: dispatch to the CLI."""

import sys

from .cli import main

sys.exit(main())
