"""Tests of the evaluation tools (menwei eval) and their metric maths."""
