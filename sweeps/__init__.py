"""6.1's sweeps over seeds and configs, above mlp.py: running them (resume, worker processes) and
the depth probe."""
