"""saddle_post: post-processing of Saddle run files (README, "Post-processing").

  saddle-post report RUN.h5 [RUN2.h5 ...]          provenance, deck, last metrics, timers
  saddle-post plot RUN.h5 [--metrics a,b] [--out DIR] [--logy]
  saddle-post hb RUN.h5 [--out DIR]                the hb workload's figures
  saddle-post scaling-report DIR                   CSV and plots of a jobs/scaling/scaling.py study

Modules: runfile (open and read run files), report, plot (also the shared figure helpers), hb,
scaling, cli. Needs only Debian's /usr/bin/python3 with python3-h5py and python3-matplotlib.
"""
import matplotlib

matplotlib.use("Agg")  # files only, never a display
