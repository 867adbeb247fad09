"""Deterministic machinery, usable without any LLM; imports neither agents nor graphs."""

import os

# OpenMP threads that wait for work sleep instead of spinning. llama.cpp's threads meet at a
# barrier many times per token; spinning there on a machine that is busy with anything else
# (another job, the user's browser) made an embedded-model call 46 s instead of 6 s on 2 cores.
# Read once, when the first OpenMP runtime loads: so here, before NumPy, XGBoost, torch or
# llama.cpp are imported. A value the user set is kept.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
