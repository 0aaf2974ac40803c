"""``python -m rais`` is the ``rais`` command (e.g. ``python -m rais serve``)."""

import sys

from .cli import main

sys.exit(main())
