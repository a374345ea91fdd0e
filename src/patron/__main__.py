import sys

from patron.cli import main

sys.exit(main())
