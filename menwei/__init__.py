"""The composition root: the `menwei` command wires the adapters (staff page, door tools) to the
gateway core. Nothing imports this package; it may import every other one."""
