"""grader's modules import each other without a cycle, counting imports inside function bodies too.

A cycle hidden in a function body still ties the modules together: neither can be understood, tested or moved
without the other. Tasks import services and services send tasks by name through grader.dispatch.
"""

from __future__ import annotations

import ast
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
PACKAGE = "grader"


def module_name(path: Path) -> str:
    parts = path.relative_to(PROJECT_DIR).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def grader_modules() -> dict[str, Path]:
    return {
        module_name(path): path
        for path in (PROJECT_DIR / PACKAGE).rglob("*.py")
        if "migrations" not in path.parts and "templates" not in path.parts
    }


def imported_modules(source: str, known: set[str]) -> set[str]:
    """Every module of ``known`` that ``source`` names in an import statement, wherever the statement is."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from grader.services import submissions` imports the module grader.services.submissions;
            # `from grader.models import Submission` imports grader.models.
            names = [f"{node.module}.{alias.name}" for alias in node.names]
            names = [name if name in known else node.module for name in names]
        else:
            continue
        found |= {name for name in names if name in known}
    return found


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module, or a module importing itself (Tarjan)."""
    index: dict[str, int] = {}
    lowlink: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = lowlink[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for target in graph[module]:
            if target not in index:
                visit(target)
                lowlink[module] = min(lowlink[module], lowlink[target])
            elif target in on_stack:
                lowlink[module] = min(lowlink[module], index[target])
        if lowlink[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1 or module in graph[module]:
                cycles.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return cycles


def test_no_import_cycle_among_graders_modules() -> None:
    modules = grader_modules()
    graph = {name: imported_modules(path.read_text(encoding="utf-8"), set(modules)) for name, path in modules.items()}
    assert import_cycles(graph) == []


def test_the_cycle_finder_sees_an_import_inside_a_function_body() -> None:
    known = {"grader.tasks", "grader.services.submissions"}
    services = imported_modules("def enqueue():\n    from grader.tasks import grade_submission\n", known)
    tasks = imported_modules("from grader.services import submissions\n", known)
    graph = {"grader.services.submissions": services, "grader.tasks": tasks}
    assert import_cycles(graph) == [["grader.services.submissions", "grader.tasks"]]
