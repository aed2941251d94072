"""The pieces the language model of mlp_lm.py is built from, below it: its data (corpus.py), output
layers (output.py), first-block additions (context.py), kernels, optimisers, weight average,
checkpoints, training bookkeeping, sampling and the glue for torchrun."""
