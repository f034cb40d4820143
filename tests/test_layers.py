"""The package layout is the architecture: a layer imports only from layers below it, and no
module imports itself back through another (read from the source, function-level imports included)."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Lowest first. A module may import its own layer and any layer listed before it.
LAYERS = (
    ("squat", "squat.errors", "squat.settings", "squat.skeleton", "squat.numbers", "squat.series", "squat.measures",
     "squat.timing", "squat.memory"),  # foundations
    ("squat.io",),  # video in/out
    ("squat.pose",),  # networks, weights, decoding, detections
    ("squat.track",),  # framing, choosing and following the lifter, smoothing
    ("squat.measure",),  # plate and bar, body, kinematics, reps and faults
    ("squat.draw",),  # overlays, chart band, heatmaps, Altair charts
    ("squat.results", "squat.passes", "squat.compare"),  # results and kept network passes; comparing two results
    ("squat.reading", "squat.second_look", "squat.pipeline", "squat.store", "squat.jobs"),  # orchestration
    ("squat.eval", "squat.bench"),  # evaluation and speed: read results like any user, run the pipeline
    ("squat.cli", "squat.__main__"),  # the command line dispatches to all of the above
    ("dashboard",),  # the Streamlit app's package, beside the engine
)


def layer_of(module: str) -> int:
    best = (-1, -1)  # (length of the longest matching prefix, layer)
    for rank, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best[0]:
                best = (len(prefix), rank)
    assert best[1] >= 0, f"{module} is in no layer: add it to LAYERS"
    return best[1]


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every squat/dashboard module `path` imports, resolving `from pkg import module`."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
            out |= {f"{node.module}.{a.name}" for a in node.names if (ROOT / node.module.replace(".", "/") / a.name).exists()
                    or (ROOT / node.module.replace(".", "/") / f"{a.name}.py").exists()}
        elif isinstance(node, ast.ImportFrom) and node.level:
            raise AssertionError(f"{path}: relative import (write `from squat.… import`, the layer shows)")
    return {m for m in out if m.split(".")[0] in ("squat", "dashboard")}


def engine_modules() -> dict[str, set[str]]:
    files = [*ROOT.glob("squat/**/*.py"), *ROOT.glob("dashboard/**/*.py")]
    return {module_name(p): imports(p) for p in files}


def test_every_import_goes_down_or_sideways():
    upward = [f"{m} (layer {layer_of(m)}) imports {i} (layer {layer_of(i)})"
              for m, deps in engine_modules().items() for i in deps if layer_of(i) > layer_of(m)]
    assert not upward, "\n".join(upward)


def test_no_import_cycles():
    modules = engine_modules()
    graph = {m: {d for d in deps if d in modules} - {m} for m, deps in modules.items()}
    done: set[str] = set()

    def visit(m: str, stack: list[str]) -> None:
        for d in sorted(graph[m]):
            assert d not in stack, "import cycle: " + " → ".join(stack[stack.index(d):] + [d])
            if d not in done:
                visit(d, stack + [d])
        done.add(m)

    for m in sorted(graph):
        if m not in done:
            visit(m, [m])


def test_the_engine_never_imports_streamlit():
    for path in ROOT.glob("squat/**/*.py"):
        tree = ast.parse(path.read_text())
        names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        names |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        assert not any(n.split(".")[0] == "streamlit" for n in names), path


def test_every_layer_folder_says_what_lives_there_and_what_it_may_import():
    folders = [p.parent for pattern in ("squat/*/__init__.py", "dashboard/__init__.py", "dashboard/*/__init__.py")
               for p in ROOT.glob(pattern)]
    assert len(folders) >= 7
    for folder in folders:
        doc = ast.get_docstring(ast.parse((folder / "__init__.py").read_text()))
        assert doc and "import" in doc.lower(), f"{folder.name}/__init__.py needs its two-line docstring"


def test_the_readme_layout_table_names_every_module():
    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("## Layout"):readme.index("\n## ", readme.index("## Layout") + 1)]
    files = [p for p in [*ROOT.glob("squat/**/*.py"), *ROOT.glob("dashboard/**/*.py")]
             if p.name not in ("__init__.py", "__main__.py")]
    unnamed = [str(p.relative_to(ROOT)) for p in files if f"`{p.name}`" not in table
               and f"`{p.relative_to(ROOT).as_posix()}`" not in table and f"{p.name}`" not in table]
    assert not unnamed, f"README's Layout table does not name: {', '.join(unnamed)}"
