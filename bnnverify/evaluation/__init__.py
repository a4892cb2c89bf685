"""Fast evaluation: the bit-packed evaluator, tested against :mod:`bnnverify.semantics`."""
