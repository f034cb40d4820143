import sys

from squat.cli import main

sys.exit(main())
