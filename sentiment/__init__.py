"""Beyond the handout: bag-of-n-gram sentiment models on the course's IMDB splits (ngrams.py)."""
