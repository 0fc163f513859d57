"""saddle_post: post-processing of Saddle run files (docs/usage.md, "Post-processing").

  saddle-post report RUN.h5 [RUN2.h5 ...]          provenance, deck, last metrics, timers
  saddle-post plot RUN.h5 [--metrics a,b] [--out DIR] [--logy]
  saddle-post ksvd|wgan|hb|mail RUN.h5 [--out DIR] one workload's figures (docs/workloads/)
  saddle-post wgan-timeline RUN.h5 [-o PNG]        pipeline timeline of a layer-parallel wgan run
  saddle-post qoda RUN.h5 [RUN.h5 ...] [--out DIR] qoda runs of one problem, drawn together
  saddle-post scaling-report DIR                   CSV and plots of a jobs/scaling/scaling.py study

Modules: runfile (open and read run files), report, plot (also the shared figure helpers), one
per workload (ksvd, qoda, wgan, hb, mail), wgan_timeline, scaling, cli. Needs only Debian's
/usr/bin/python3 with python3-h5py and python3-matplotlib.
"""
import matplotlib

matplotlib.use("Agg")  # files only, never a display
