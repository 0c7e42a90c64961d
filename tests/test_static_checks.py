"""Checks made on the source itself rather than by running it."""

from __future__ import annotations

import ast

from paths import PROJECT_ROOT

PRODUCT_PACKAGES = ("recommender", "bot", "console")  # bench/ re-enacts the original's pickles on purpose
CODE_RUNNING_MODULES = {"pickle", "cPickle", "dill", "joblib", "marshal", "shelve", "cloudpickle"}
CODE_RUNNING_CALLS = {"read_pickle", "unsafe_load", "full_load"}


def test_no_pickle_or_other_code_running_loader_in_the_product():
    problems = []
    for package in PRODUCT_PACKAGES:
        for path in sorted((PROJECT_ROOT / package).rglob("*.py")):
            where = path.relative_to(PROJECT_ROOT)
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
                if isinstance(node, ast.Import):
                    names = {alias.name.split(".")[0] for alias in node.names}
                elif isinstance(node, ast.ImportFrom):
                    names = {(node.module or "").split(".")[0]}
                else:
                    names = set()
                problems += [f"{where}:{node.lineno} imports {name}" for name in names & CODE_RUNNING_MODULES]
                if not isinstance(node, ast.Call):
                    continue
                called = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                keywords = {k.arg: k.value for k in node.keywords}
                if called in CODE_RUNNING_CALLS:
                    problems.append(f"{where}:{node.lineno} calls {called}")
                pickle_flag = keywords.get("allow_pickle")
                if isinstance(pickle_flag, ast.Constant) and pickle_flag.value is not False:
                    problems.append(f"{where}:{node.lineno} passes allow_pickle={pickle_flag.value!r}")
                if (
                    called == "load"
                    and isinstance(node.func, ast.Attribute)
                    and getattr(node.func.value, "id", "") in ("np", "numpy")
                    and not (isinstance(pickle_flag, ast.Constant) and pickle_flag.value is False)
                ):
                    problems.append(f"{where}:{node.lineno} calls np.load without allow_pickle=False")
    assert not problems, problems


# -- who may import whom ---------------------------------------------------------------------


def imports_of(path) -> set[str]:
    """The modules ``path`` imports (relative imports made absolute; ``from x import y`` counts as
    both x and x.y, since y may be a module), type-checking-only imports included."""
    module = ".".join(path.relative_to(PROJECT_ROOT).with_suffix("").parts)
    package = module.split(".")[:-1]  # for an __init__.py, the package itself
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            name = ".".join([*base, *(node.module.split(".") if node.module else [])])
            found.add(name)
            found |= {f"{name}.{alias.name}" for alias in node.names}
    return found


def modules_in(folder: str):
    return sorted((PROJECT_ROOT / folder).rglob("*.py"))


def test_cogs_never_import_each_other_and_the_shared_bot_modules_import_no_cog():
    problems = []
    for path in modules_in("bot"):
        own = ".".join(path.relative_to(PROJECT_ROOT).with_suffix("").parts)
        cogs = {name for name in imports_of(path) if name.startswith("bot.cogs.") and name != own}
        problems += [f"{path.relative_to(PROJECT_ROOT)} imports {name}" for name in sorted(cogs)]
    assert not problems, problems


def test_the_console_needs_nothing_of_discord_and_the_library_no_front_end():
    problems = []
    for folder, forbidden in (("console", ("bot", "discord")), ("recommender", ("bot", "console", "discord"))):
        for path in modules_in(folder):
            bad = {name for name in imports_of(path) if name.split(".")[0] in forbidden}
            problems += [f"{path.relative_to(PROJECT_ROOT)} imports {name}" for name in sorted(bad)]
    assert not problems, problems


def product_modules() -> dict[str, object]:
    """Every module of the product by dotted name, and its path."""
    found = {}
    for package in PRODUCT_PACKAGES:
        for path in modules_in(package):
            parts = path.relative_to(PROJECT_ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def runtime_imports_of(path) -> set[str]:
    """Like :func:`imports_of`, leaving out what is imported only for type checking (``if
    TYPE_CHECKING:``), which never runs."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    typing_only = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and getattr(node.test, "id", getattr(node.test, "attr", "")) == "TYPE_CHECKING"
        for statement in node.body
        for inner in ast.walk(statement)
    }
    module = ".".join(path.relative_to(PROJECT_ROOT).with_suffix("").parts)
    package = module.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            name = ".".join([*base, *(node.module.split(".") if node.module else [])])
            found.add(name)
            found |= {f"{name}.{alias.name}" for alias in node.names}
    return found


def import_graph() -> dict[str, set[str]]:
    """Product module -> the product modules it imports when it runs (at any depth of its code)."""
    modules = product_modules()
    return {
        name: {imported for imported in runtime_imports_of(path) if imported in modules and imported != name}
        for name, path in modules.items()
    }


def test_no_module_of_the_product_takes_part_in_an_import_cycle():
    graph = import_graph()
    # Tarjan's strongly connected components: any component of two or more modules is a cycle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    assert not cycles, cycles


def test_the_library_core_never_imports_the_application_layer_or_the_command_line():
    # recommender/ is layered: the core (data, models, search, ranking, evaluation, feedback)
    # < app/ (the use cases the front ends share) < the front ends (cli/, bot/, console/).
    problems = []
    for name, targets in import_graph().items():
        if not name.startswith("recommender.") or name.startswith(
            ("recommender.app", "recommender.cli", "recommender.__main__")
        ):
            continue
        problems += [
            f"{name} imports {t}" for t in sorted(targets) if t.startswith(("recommender.app", "recommender.cli"))
        ]
    for name, targets in import_graph().items():
        if name.startswith("recommender.app"):
            problems += [f"{name} imports {t}" for t in sorted(targets) if t.startswith("recommender.cli")]
    assert not problems, problems
