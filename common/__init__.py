"""What both course files stand on, below them: the data files and their checks (datafiles.py),
downloads (download.py, convert.py), GloVe (glove.py), the sentiment MLP's fast featurizer and
batches, worker processes, each setting declared once (settings.py), and `compare`
(reference.py)."""
