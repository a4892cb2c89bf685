"""The questions users ask — robustness, radius, equivalence, sweeps — written against :mod:`bnnverify.engines`."""
