"""Index many videos at once (`mcr-agent index DIR`, the Video-MME evaluation's memories).

jobs.py        finding videos, `index_video` (one video's work, never raising), the worker pool
view.py        the corpus run's bar, per-video lines and closing table
cli.py         the corpus side of `index` (--workers, --ray) and its runner choice
ray_runner.py  each video a Ray task (Ray imported only here, only when asked for)
"""
