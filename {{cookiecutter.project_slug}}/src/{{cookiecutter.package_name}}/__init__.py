"""The model package: its data contract, pipeline stages and command line."""

import atexit
import gc
import os

# XGBoost's OpenMP threads otherwise spin while waiting for a core another process holds: the
# same fit then takes 0.2 s or 16 s on a shared runner. OpenMP reads this when XGBoost loads,
# so it is set here, before any module imports XGBoost, whoever runs the code (make, dvc, a
# test, a notebook). Passive waiting changes the timing, never the model bytes.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# At exit Python collects the whole heap before it tears the modules down: with pandas,
# XGBoost, MLflow or Great Expectations loaded that is 200,000-300,000 objects and 0.5-0.7 s
# of every command and stage a person or a workflow runs. Frozen objects are left out of that
# collection; the exit handlers (MLflow ending its run, logging's flush) still run first.
atexit.register(gc.freeze)
