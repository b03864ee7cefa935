"""Fleet scale: many captures analysed in parallel on Dask into a Parquet dataset.

`plan` turns paths/globs (or a manifest) into `Group`s — the capture sources of one
analysis; `analyze_group` is the pure worker function (runs anywhere chargescope is
installed); `run_batch` drives a Dask cluster, skips groups already in the dataset
(same content hash and chargescope version), records failures, and writes the
dataset; `triage` reads it back as the EV × charger matrix.
"""

from chargescope.analyzer.batch.dataset import TABLES, Dataset
from chargescope.analyzer.batch.plan import Group, plan
from chargescope.analyzer.batch.run import BatchReport, run_batch
from chargescope.analyzer.batch.triage import triage
from chargescope.analyzer.batch.worker import analyze_group

__all__ = ["TABLES", "BatchReport", "Dataset", "Group", "analyze_group", "plan", "run_batch",
           "triage"]
