"""Layering: phonetics never imports torch (everything, including light tools, reads it)."""

import subprocess
import sys


def test_phonetics_imports_no_torch():
    code = ("import sys, phonetics; phonetics.analyze('月光', 'yue'); "
            "bad = [m for m in ('torch', 'transformers') if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_cli_analyses_without_importing_torch():
    """`tianci analyze` starts fast: the command line reaches torch only when a model is loaded."""
    code = ("import sys; from tianci.cli import main; main(['analyze', '--json', '月光']); "
            "print([m for m in ('torch', 'transformers') if m in sys.modules], file=sys.stderr)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stderr.strip() == "[]" and '"rhyme"' in out.stdout


def test_help_imports_neither_torch_nor_gradio():
    """`tianci --help` and `app.py --help` (and a mistyped flag) answer without loading the heavy libraries."""
    heavy = "print([m for m in ('torch', 'transformers', 'gradio') if m in sys.modules], file=sys.stderr)"
    for entry in ("from tianci.cli import main", "from app import main"):
        code = f"import sys\n{entry}\ntry:\n    main(['--help'])\nexcept SystemExit:\n    {heavy}"
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
        assert out.stderr.strip() == "[]" and "usage:" in out.stdout, (entry, out.stderr)


# ---- the layer contract ---------------------------------------------------------------------------
# phonetics → lyrics (data → decoding → generation and model loading → training) → scorer (model, training,
# the candidate pipeline, batch, rejection sampling) → entry points (tianci/ the CLI, app.py). A module may
# import its own layer and the layers below it, never one above; no import circle anywhere, not even through a
# function-local import; no private name imported from another module.

import ast  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
LAYERS = [("phonetics",), ("lyrics.files", "lyrics.data", "lyrics.modern"), ("lyrics.decoding",),
          ("lyrics.generation", "lyrics.models", "lyrics"), ("lyrics.training",), ("scorer",), ("tianci", "app")]
FIRST_PARTY = ("phonetics", "lyrics", "scorer", "tianci", "app")


def layer_of(module: str) -> int:
    """The layer of a module: the longest listed prefix wins (``lyrics.data.works`` → lyrics.data)."""
    best, rank = -1, None
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, rank = len(prefix), index
    assert rank is not None, module
    return rank


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> list[tuple[str, list[str], int]]:
    """(imported first-party module, names taken from it, line) for every import in the file, local ones too."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            found += [(alias.name, [], node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            names = [alias.name for alias in node.names]
            found.append((base, names, node.lineno))
            # `from package import module` imports the module
            folder = ROOT / base.replace(".", "/")
            found += [(f"{base}.{n}", [], node.lineno) for n in names if (folder / f"{n}.py").is_file()]
    return [(m, names, line) for m, names, line in found if m.split(".")[0] in FIRST_PARTY]


def source_files() -> list[Path]:
    files = [ROOT / "app.py"]
    for top in ("phonetics", "lyrics", "scorer", "tianci"):
        files += sorted((ROOT / top).rglob("*.py"))
    return files


def existing(module: str) -> str:
    """The module itself, or (``from lyrics.data import keywords`` named a package) the package."""
    path = ROOT / module.replace(".", "/")
    return module if path.with_suffix(".py").is_file() or (path / "__init__.py").is_file() else \
        module.rpartition(".")[0]


def test_no_module_imports_from_a_layer_above_its_own():
    upward = []
    for path in source_files():
        here = module_name(path)
        for target, _, line in imports_of(path):
            if layer_of(existing(target)) > layer_of(here):
                upward.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    assert upward == []


def test_the_import_graph_has_no_circle():
    graph: dict[str, set[str]] = {}
    for path in source_files():
        here = module_name(path)
        graph[here] = {existing(t) for t, _, _ in imports_of(path)} - {here}
    state: dict[str, int] = {}
    circles = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if nxt.startswith(node + ".") or node.startswith(nxt + "."):
                continue  # a package and its own modules
            if state.get(nxt) == 1:
                circles.append(" -> ".join([*trail[trail.index(nxt):], nxt]) if nxt in trail else f"{node} -> {nxt}")
            elif nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert circles == []


def test_no_private_name_is_imported_from_another_module():
    private = [f"{path.relative_to(ROOT)}:{line} imports {n} from {target}"
               for path in source_files() for target, names, line in imports_of(path)
               for n in names if n.startswith("_") and not n.startswith("__")]
    assert private == []


def test_every_bench_script_imports():
    """The benches are run by hand and by `make bench`, not by the tests: at least their imports stay right."""
    import importlib.util
    import sys

    sys.path.insert(0, str(ROOT))
    for path in sorted((ROOT / "bench").glob("*.py")):
        spec = importlib.util.spec_from_file_location(f"bench_{path.stem}", path)
        module = sys.modules[spec.name] = importlib.util.module_from_spec(spec)  # dataclasses look it up
        try:
            spec.loader.exec_module(module)  # module level only: main() is not run
        finally:
            del sys.modules[spec.name]
