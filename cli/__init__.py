"""The command line of `python main.py`: the flags (flags.py), the command table (commands.py),
parsing and checking every value before any work (parse.py), and the one-line faults and
interruptions (faults.py). main.py maps each command to the function that runs it."""
