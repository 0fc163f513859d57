"""python3 -m saddle_post COMMAND ...: the saddle-post command line (cli.py)."""
import sys

from .cli import main

sys.exit(main())
