"""The recognition pipeline: detect, quality-gate, align, liveness, embed; one module per stage."""
