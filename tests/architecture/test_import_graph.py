"""The layering rules, checked on the source's import graph (parsed with ast, nothing imported).

- No cycles between the top-level packages; the composition root `menwei` is imported by nobody.
- firmware_bridge is the bottom: it imports nothing of ours.
- gateway imports no adapter package (provisioning, menwei, station_console); adapters reach
  the core through gateway.application, never the reverse: the application layer imports no
  adapter and no runtime.
- No cycles between gateway's subpackages: the config sections live in gateway.config, which
  imports no other subpackage, so every subpackage can read its section without a loop.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.architecture.import_graph import (
    ImportEdge,
    cycles,
    module_edges,
    top_level_packages,
    unit_graph,
)

REPO = Path(__file__).resolve().parents[2]

# Adapters: they translate a protocol (HTML/JSON, MQTT station commands, command line, the demo)
# into calls of the application layer.
ADAPTERS = ("provisioning", "menwei", "gateway.station", "gateway.cli", "gateway.demo")


@pytest.fixture(scope="module")
def edges() -> list[ImportEdge]:
    return module_edges(REPO, top_level_packages(REPO))


def _top(module: str) -> str:
    return module.split(".")[0]


def _gateway_subpackage(module: str) -> str | None:
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "gateway" and len(parts) > 1 else None


def _within(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def _show(found: list[ImportEdge]) -> str:
    return "\n".join(str(edge) for edge in found[:20])


def test_the_graph_is_read(edges: list[ImportEdge]) -> None:
    """Guard against a parser that finds nothing (every rule below would pass vacuously)."""
    importers = {edge.importer for edge in edges}
    assert "gateway.runtime.service" in importers
    assert any(
        e.imported.startswith("gateway.store") for e in edges if _top(e.importer) == "provisioning"
    )


def test_no_cycles_between_top_level_packages(edges: list[ImportEdge]) -> None:
    graph = unit_graph(edges, _top)
    found = cycles(graph)
    details = [edge for pair, group in graph.items() for edge in group if pair[::-1] in graph]
    assert found == [], f"cycles {found}:\n{_show(details)}"


def test_nobody_imports_the_composition_root(edges: list[ImportEdge]) -> None:
    found = [e for e in edges if _top(e.imported) == "menwei" and _top(e.importer) != "menwei"]
    assert found == [], _show(found)


def test_firmware_bridge_imports_nothing_of_ours(edges: list[ImportEdge]) -> None:
    found = [
        e
        for e in edges
        if _top(e.importer) == "firmware_bridge" and _top(e.imported) != "firmware_bridge"
    ]
    assert found == [], _show(found)


def test_gateway_imports_no_adapter_package(edges: list[ImportEdge]) -> None:
    found = [
        e
        for e in edges
        if _top(e.importer) == "gateway"
        and _top(e.imported) in ("provisioning", "menwei", "station_console")
    ]
    assert found == [], _show(found)


def test_application_layer_imports_no_adapter_and_no_runtime(edges: list[ImportEdge]) -> None:
    found = [
        e
        for e in edges
        if _within(e.importer, ("gateway.application",))
        and _within(e.imported, (*ADAPTERS, "gateway.runtime"))
    ]
    assert found == [], _show(found)


def test_core_imports_no_adapter(edges: list[ImportEdge]) -> None:
    """The inner packages (decisions, door, store, vision) know nothing of who calls them."""
    core = ("gateway.access", "gateway.store", "gateway.vision", "gateway.gallery")
    found = [e for e in edges if _within(e.importer, core) and _within(e.imported, ADAPTERS)]
    assert found == [], _show(found)


def test_no_cycles_between_gateway_subpackages(edges: list[ImportEdge]) -> None:
    graph = unit_graph(edges, _gateway_subpackage)
    found = cycles(graph)
    details = [edge for pair, group in graph.items() for edge in group if pair[::-1] in graph]
    assert found == [], f"cycles {[sorted(c) for c in found]}:\n{_show(details)}"


def test_config_imports_no_other_gateway_subpackage(edges: list[ImportEdge]) -> None:
    found = [
        e
        for e in edges
        if _within(e.importer, ("gateway.config",))
        and _top(e.imported) == "gateway"
        and not _within(e.imported, ("gateway.config",))
    ]
    assert found == [], _show(found)


def test_runtime_modules_have_no_cycles(edges: list[ImportEdge]) -> None:
    """service <-> station_wiring was one: the wiring now gets queries, not the service."""
    runtime = [e for e in edges if _within(e.importer, ("gateway.runtime",))]
    found = cycles(unit_graph(runtime, lambda m: m if _within(m, ("gateway.runtime",)) else None))
    assert found == [], found


def test_cycle_finder_finds_a_cycle() -> None:
    """The checks above are only as good as `cycles`: it must report a real one."""
    graph = {("a", "b"): [], ("b", "c"): [], ("c", "a"): [], ("c", "d"): []}
    assert cycles(graph) == [frozenset({"a", "b", "c"})]
