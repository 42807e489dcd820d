"""``python -m anyconv``."""

import sys

from anyconv.cli import main

sys.exit(main())
