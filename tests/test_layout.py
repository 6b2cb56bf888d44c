"""The package's folders are the pipeline: every import goes to the same folder or an earlier one."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# In pipeline order; a module may import from its own layer and those before it.
LAYERS = [
    ("w2v.errors", "w2v.fileio"),
    ("w2v.text", "corpora"),
    ("w2v.training",),
    ("w2v.files",),
    ("w2v.query",),
    ("w2v.reports", "w2v.viewer"),
    ("w2v.api",),
    ("w2v.cli",),
]


def layer_of(module: str) -> int | None:
    for index, prefixes in enumerate(LAYERS):
        if any(module == prefix or module.startswith(prefix + ".") for prefix in prefixes):
            return index
    return None


def imported_modules(path: Path) -> list[tuple[str, int]]:
    """The w2v and corpora modules `path` imports, with line numbers, TYPE_CHECKING ones too."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found += [(f"{node.module}.{alias.name}", node.lineno) for alias in node.names]
    return [(name, line) for name, line in found if name.split(".")[0] in ("w2v", "corpora")]


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_every_module_belongs_to_a_layer():
    modules = [
        module_name(path) for path in [*ROOT.glob("w2v/**/*.py"), *ROOT.glob("corpora/*.py")]
    ]
    assert [
        name for name in modules if name not in ("w2v", "corpora") and layer_of(name) is None
    ] == []


def test_imports_run_down_the_pipeline_only():
    backwards = []
    for path in [*ROOT.glob("w2v/**/*.py"), *ROOT.glob("corpora/*.py")]:
        importer = module_name(path)
        own = layer_of(importer)
        if own is None:  # the packages' __init__ files
            continue
        for name, line in imported_modules(path):
            target = layer_of(name)
            if target is not None and target > own:
                backwards.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    assert backwards == []


def test_query_only_init_imports_nothing_from_training():
    imports = [name for name, _ in imported_modules(ROOT / "w2v" / "__init__.py")]
    assert all(layer_of(name) in (0, 3, 4) for name in imports), imports
