"""Accuracy tools: LFW-style verification, open-set identification and liveness error rates."""
