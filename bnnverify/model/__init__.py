"""What a model is: layer kinds (defined in :mod:`bnnverify.encoders.layers`), exact folding, summaries."""
