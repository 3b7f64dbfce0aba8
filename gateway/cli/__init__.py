"""The `menwei` command line: one argparse tree, each command group registered by its own module."""
