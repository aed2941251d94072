"""Our language-model runs, above mlp_lm.py: the config of our additions and its presets
(config.py), our training with them (train.py), one pipeline for the fixed-window model and the
LSTM (pipeline.py, run.py, lstm.py), and scoring after training (scoring.py: a continuous cache,
dynamic evaluation and a Kneser-Ney mixture, in cache.py, dynamic.py and ngram.py)."""
