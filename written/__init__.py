"""Sections 1-5 of the handout made executable: each answer as a computation with its check
(answers.py), and Figures 1 and 2 (figures.py)."""
