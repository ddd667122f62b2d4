# Mistake: a file with no flow block at all.
