"""Speed measurements, run as modules (`python -m benchmarks.<name>`): `lm_speed` (training the
language model), `lm_scoring` (its scoring passes), `mlp_speed` (the sentiment data path),
`sweep_speed` (the sweeps' stacked training against one run at a time) and `sweep_floor` (what the
sweeps' arithmetic alone costs on this machine)."""
