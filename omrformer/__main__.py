"""``python -m omrformer`` runs the ``omrformer`` command."""

import sys

from omrformer.cli import main

sys.exit(main())
