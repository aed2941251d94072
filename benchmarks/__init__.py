"""Speed measurements, run as modules: `python -m benchmarks.lm_speed` and `.mlp_speed`."""
