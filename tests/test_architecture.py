"""The packages' dependencies point one way (README, "How it fits together").

The composition root (`gateway/`) imports everything and nothing imports it; `channels/` and
`handoff/` use the core (`bot/`); the core imports neither; no package cycle; a channel imports
no other channel; no gateway module imports Rasa. Read from the source with `ast`, imports
inside functions and `if TYPE_CHECKING:` blocks included.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from bot.assistant_model import PROJECT_ROOT

PACKAGES = ("bot", "channels", "handoff", "gateway")
# What each package may import of the others.
MAY_IMPORT: dict[str, set[str]] = {
    "bot": set(),
    "channels": {"bot"},
    "handoff": {"bot"},
    "gateway": {"bot", "channels", "handoff"},
}
# Modules of channels/ every channel shares (the contract and the list of channels).
CHANNEL_COMMONS = {"channels.contract", "channels.registry"}
# Web chat is three modules beside each other rather than a package.
CHANNEL_MODULES = {
    "webchat_presence": "webchat",
    "webchat_sessions": "webchat",
    "webchat_shapes": "webchat",
    "webchat_uploads": "webchat",
}


def imported_modules(source: str, module: str) -> Iterator[str]:
    """The absolute names of the modules `source` (the module `module`) imports."""
    package = module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolved against the importing module's package
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            yield target
            # `from channels import telegram` imports the module channels.telegram.
            yield from (f"{target}.{alias.name}" for alias in node.names)


def modules(package: str) -> Iterator[tuple[str, str]]:
    """(module name, source) of every module of a top-level package."""
    for path in sorted((PROJECT_ROOT / package).rglob("*.py")):
        relative = path.relative_to(PROJECT_ROOT).with_suffix("")
        name = ".".join(relative.parts).removesuffix(".__init__")
        yield name, path.read_text()


def package_imports(package: str) -> dict[str, set[str]]:
    """Each other first-party package `package` imports, with the modules that do."""
    found: dict[str, set[str]] = {}
    for name, source in modules(package):
        for target in imported_modules(source, name):
            top = target.split(".")[0]
            if top in PACKAGES and top != package:
                found.setdefault(top, set()).add(name)
    return found


def cycle_in(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle in `graph` (as the path that closes it), or None."""
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = "done"
        path.pop()
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_each_package_imports_only_what_lies_below_it() -> None:
    for package in PACKAGES:
        upward = {
            other: sorted(importers)
            for other, importers in package_imports(package).items()
            if other not in MAY_IMPORT[package]
        }
        assert not upward, f"{package}/ must not import {upward}"


def test_no_package_cycle() -> None:
    graph = {package: set(package_imports(package)) for package in PACKAGES}
    assert cycle_in(graph) is None, cycle_in(graph)


def test_a_channel_imports_no_other_channel() -> None:
    def channel_of(module: str) -> str | None:
        parts = module.split(".")
        if len(parts) < 2 or ".".join(parts[:2]) in CHANNEL_COMMONS:
            return None
        return CHANNEL_MODULES.get(parts[1], parts[1])

    for name, source in modules("channels"):
        own = channel_of(name)
        if own is None:
            continue
        others = {
            channel_of(target)
            for target in imported_modules(source, name)
            if target.startswith("channels.")
        } - {None, own}
        assert not others, f"{name} imports the channel(s) {others}"


def test_no_gateway_module_imports_rasa() -> None:
    for package in PACKAGES:
        for name, source in modules(package):
            tops = {target.split(".")[0] for target in imported_modules(source, name)}
            assert not tops & {"rasa", "rasa_sdk"}, name


def test_the_rasa_side_takes_only_the_shared_reasons_from_the_gateway() -> None:
    for package in ("actions", "connectors"):
        for name, source in modules(package):
            first_party = {
                target
                for target in imported_modules(source, name)
                if target.split(".")[0] in PACKAGES
            }
            assert first_party <= {"bot.handoff_reasons", "bot.handoff_reasons.HandoffReason"}, (
                name,
                first_party,
            )


def test_the_checks_see_upward_imports_and_cycles() -> None:
    # The checks above can fail: an upward import in any form is found, and a cycle is named.
    source = (
        "from handoff.live import LiveHub\n"
        "import channels.webchat\n"
        "def later():\n"
        "    from gateway import services\n"
        "from . import sibling\n"
    )
    found = set(imported_modules(source, "bot.router"))
    assert {"handoff.live", "channels.webchat", "gateway.services", "bot.sibling"} <= found
    assert cycle_in({"bot": {"handoff"}, "handoff": {"bot"}}) == ["bot", "handoff", "bot"]
    assert cycle_in(MAY_IMPORT) is None
