"""The optimizers as they were before each algorithm was written once (numpy ``direction`` and a hand-written
numba twin side by side), kept verbatim as the reference the single-source derivation must equal bit for bit."""
