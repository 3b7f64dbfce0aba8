"""The application layer: the gateway's use cases, between the adapters and the runtime.

Adapters (staff page HTML and JSON routes, station commands, the command line, the demo) call
the commands and queries here and nothing below them; the runtime (`AccessService`) builds them
over its running parts. Each command is one transaction with one audit row and the one copy of
its rules. This package imports no adapter and no runtime module (tests/architecture checks it):
what it needs from the running parts it names as small Protocols in `parts`.
"""
