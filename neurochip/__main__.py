"""``python -m neurochip`` runs the command line (:mod:`neurochip.cli`)."""

import sys

from neurochip.cli import main

sys.exit(main())
