"""The modules that run on the RP2040 stay inside what MicroPython offers: they import only
`struct`, `os`, `machine`, `time` and the shared protocol modules, and use no decorators
(dataclasses, properties) or `__future__` imports. They were also compiled with mpy-cross 1.29."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "firmware_bridge"
ON_DEVICE = [
    ROOT / "protocol" / "frames.py",
    ROOT / "protocol" / "messages.py",
    ROOT / "firmware" / "main.py",
]
ALLOWED_IMPORTS = {
    "struct",
    "os",
    "frames",
    "messages",
    "machine",
    "time",
    "firmware_bridge.protocol",
}


@pytest.mark.parametrize("path", ON_DEVICE, ids=lambda p: p.name)
def test_on_device_modules_use_the_micropython_subset(path: Path) -> None:
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported = {alias.name for alias in node.names}
            assert imported <= ALLOWED_IMPORTS, f"{path.name}:{node.lineno} imports {imported}"
        elif isinstance(node, ast.ImportFrom):
            assert node.module in ALLOWED_IMPORTS, f"{path.name}:{node.lineno} {node.module}"
        elif isinstance(node, ast.FunctionDef | ast.ClassDef):
            assert not node.decorator_list, f"{path.name}:{node.lineno} uses a decorator"
