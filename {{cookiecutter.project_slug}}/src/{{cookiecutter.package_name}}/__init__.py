"""The model package: its data contract, pipeline stages and command line."""

import os

# XGBoost's OpenMP threads otherwise spin while waiting for a core another process holds: the
# same fit then takes 0.2 s or 16 s on a shared runner. OpenMP reads this when XGBoost loads,
# so it is set here, before any module imports XGBoost, whoever runs the code (make, dvc, a
# test, a notebook). Passive waiting changes the timing, never the model bytes.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
