"""Compatibility name: `hb_plots.py RUN.h5 [--out DIR]` is `saddle-post hb RUN.h5 [--out DIR]`.

The plots live in saddle_post/hb.py; usage: /usr/bin/python3 jobs/post/hb_plots.py RUN.h5 [--out DIR]
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
from saddle_post.cli import main  # noqa: E402

sys.exit(main(["hb", *sys.argv[1:]]))
