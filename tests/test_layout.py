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
# phonetics → lyrics (data → decoding → generation and model loading → training) → scorer (model, features,
# training, ratings) → pipeline (the Writer, candidates, batch, rejection sampling, engines) → entry points
# (tianci/ the CLI and the demo, app.py). A module may
# import its own layer and the layers below it, never one above; no import circle anywhere, not even through a
# function-local import; no private name imported from another module.

import ast  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
LAYERS = [("phonetics",), ("lyrics.files", "lyrics.data", "lyrics.modern"), ("lyrics.decoding",),
          ("lyrics.generation", "lyrics.models", "lyrics"), ("lyrics.training",), ("scorer",), ("pipeline",),
          ("tianci", "app")]
FIRST_PARTY = ("phonetics", "lyrics", "scorer", "pipeline", "tianci", "app")
LIBRARY = ("phonetics", "lyrics", "scorer", "pipeline", "tianci")


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
    for top in LIBRARY:
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


# ---- state: the Writer holds it --------------------------------------------------------------------------

MUTATORS = {"append", "extend", "insert", "setdefault", "update", "pop", "popitem", "move_to_end", "clear", "add",
            "discard", "remove"}
# memoised functions may take only these (and tuples of them): values, or a frozen value record of packaged tables
PURE_KEYS = {"str", "int", "bool", "float", "None", "RhymeScheme", "Language"}
# module-level containers that are state on purpose, not caches: the language registry (``register``)
REGISTRIES = {("phonetics/languages.py", "_REGISTRY")}


def test_no_module_level_mutable_cache():
    """State lives in objects (the Writer and what it holds: Decoder, token table, compiled constraints), never in
    module globals: no module-level dict, list or set that code writes into, no ``global`` rebinding. A
    ``functools.cache`` is allowed only on a pure function of strings and numbers (readings of packaged tables):
    one keyed by a model, tokenizer or table object is a hidden cache of the kind the Writer replaces."""
    found = []
    for path in source_files():
        tree = ast.parse(path.read_text("utf-8"))
        where = path.relative_to(ROOT)
        containers = set()
        for node in tree.body:
            value = node.value if isinstance(node, ast.Assign | ast.AnnAssign) else None
            targets = node.targets if isinstance(node, ast.Assign) else [node.target] if value is not None else []
            if isinstance(value, ast.Dict | ast.List | ast.Set) or (
                    isinstance(value, ast.Call) and getattr(value.func, "id", getattr(value.func, "attr", ""))
                    in {"dict", "list", "set", "OrderedDict", "defaultdict", "Counter"}):
                names = {t.id for t in targets if isinstance(t, ast.Name)}
                containers |= {name for name in names if (str(where), name) not in REGISTRIES}
        for node in ast.walk(tree):
            if isinstance(node, ast.Global):
                found.append(f"{where}:{node.lineno} global {', '.join(node.names)}")
            elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store | ast.Del) \
                    and getattr(node.value, "id", None) in containers:
                found.append(f"{where}:{node.lineno} writes into module-level {node.value.id}")
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in MUTATORS \
                    and getattr(node.func.value, "id", None) in containers:
                found.append(f"{where}:{node.lineno} {node.func.value.id}.{node.func.attr}()")
            elif isinstance(node, ast.FunctionDef) and any(
                    "cache" in ast.unparse(d) for d in node.decorator_list) and node.name != "__init__":
                args = [a for a in node.args.args if a.arg not in ("self", "cls")]
                kinds = {part for a in args for part in _annotation_names(a.annotation)}
                if any(d for d in node.decorator_list if "cached_property" in ast.unparse(d)):
                    continue  # kept on the object it derives from
                if not kinds <= PURE_KEYS | {"tuple", "frozenset"}:
                    found.append(f"{where}:{node.lineno} cache on {node.name}({', '.join(sorted(kinds))})")
    assert found == [], found


def _annotation_names(annotation) -> set[str]:
    if annotation is None:
        return {"unannotated"}
    return {n.id if isinstance(n, ast.Name) else "None" for n in ast.walk(annotation)
            if isinstance(n, ast.Name) or (isinstance(n, ast.Constant) and n.value is None)}


def test_no_global_seeding_outside_training_runs():
    """Generation seeds a ``torch.Generator`` of its own call; only a training run (which owns its process, and
    whose weight initialisation draws from torch's global generator) seeds the process."""
    seeding = []
    for path in source_files():
        if path.is_relative_to(ROOT / "lyrics" / "training") or path == ROOT / "scorer" / "train.py":
            continue
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Call) and ast.unparse(node.func) in {"torch.manual_seed", "random.seed",
                                                                        "torch.cuda.manual_seed_all"}:
                seeding.append(f"{path.relative_to(ROOT)}:{node.lineno} {ast.unparse(node.func)}")
    assert seeding == []


def test_every_entry_point_writes_through_a_writer():
    """The CLI, the demo, batch, rejection sampling and the Ray actors build a Writer; nothing above ``lyrics``
    decodes on its own (``Decoder``, ``generate``) but the Writer itself and the scorer's bootstrap data (below
    the pipeline: the generator's samples as negatives, through one ``Decoder``)."""
    users = {"tianci/cli.py", "tianci/demo.py", "pipeline/batch.py", "pipeline/rs/rounds.py",
             "pipeline/rs/sampling.py", "pipeline/ray_engine.py"}
    builds = set()
    bypass = []
    for path in source_files():
        here = str(path.relative_to(ROOT))
        text = path.read_text("utf-8")
        tree = ast.parse(text)
        if any(isinstance(n, ast.Name) and n.id == "Writer" for n in ast.walk(tree)):
            builds.add(here)
        if here.startswith(("lyrics/", "phonetics/")) or here in {"pipeline/writer.py", "scorer/bootstrap.py"}:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and ast.unparse(node.func).split(".")[-1] in {"Decoder", "generate",
                                                                                      "generate_many"}:
                bypass.append(f"{here}:{node.lineno} {ast.unparse(node.func)}")
    assert users <= builds, users - builds
    assert bypass == []


def test_the_generate_command_walks_each_module_once(capsys):
    """From ``tianci generate``'s arguments to printed lyrics the calls go down the layers and come back: no call
    re-enters a first-party module that is already on the stack below another one (no A → B → A)."""
    import sys

    from tianci.cli import main

    roots = tuple(str(ROOT / top) for top in (*LIBRARY, "app.py"))
    stack: list[str] = []
    reentries: set[str] = set()

    def module_of(frame) -> str | None:
        filename = frame.f_code.co_filename
        return module_name(Path(filename)) if filename.startswith(roots) else None

    def profile(frame, event, arg):
        if event == "call":
            module = module_of(frame)
            if module is not None:
                chain = [m for i, m in enumerate(stack) if i == 0 or stack[i - 1] != m]
                if module in chain and chain[-1] != module:
                    reentries.add(" -> ".join([*chain[chain.index(module):], module]))
            stack.append(module or (stack[-1] if stack else ""))
        elif event == "return" and stack:
            stack.pop()

    sys.setprofile(profile)
    try:
        main(["generate", "--topic", "月光", "--structure", "5A 5A", "-n", "1", "--seed", "1"])  # the default model
    finally:
        sys.setprofile(None)
    assert "candidate 1" in capsys.readouterr().out
    assert reentries == set(), sorted(reentries)


def test_the_batch_commands_engine_flags_come_from_its_config():
    """``tianci batch``'s engine flags are made from ``EngineConfig``'s field metadata: each flagged field has its
    flag, with the field's default and choices, and the parsed flags build the config back."""
    import dataclasses

    from pipeline.config import EngineConfig
    from tianci.cli import build_parser, config_from_args

    parser = build_parser()
    flagged = [f for f in dataclasses.fields(EngineConfig) if "flag" in f.metadata]
    assert {f.metadata["flag"] for f in flagged} == {"--engine", "--address", "--actors", "--num-gpus", "--decoder"}
    args = parser.parse_args(["batch", "specs.jsonl", "out.jsonl"])
    assert config_from_args(EngineConfig, args) == EngineConfig()
    args = parser.parse_args(["batch", "s", "o", "--engine", "ray", "--actors", "3", "--address", "10.0.0.1:6379"])
    assert config_from_args(EngineConfig, args) == EngineConfig(kind="ray", address="10.0.0.1:6379", actors=3)
    args = parser.parse_args(["batch", "s", "o", "--engine", "ray", "--decoder", "vllm"])
    assert config_from_args(EngineConfig, args) == EngineConfig(kind="ray", decoder="vllm")
