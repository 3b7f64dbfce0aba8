"""Evaluation tools (`menwei eval ...`): verification, open-set identification and liveness
figures on labelled photos, with the metric maths kept pure in `gateway.eval.metrics`."""
