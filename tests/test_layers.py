"""The layers README's Layout section draws, checked on every module's imports: the services
(``common``) import nothing else of the package, the plugin imports only the services and
itself, downstream packages import the services, the plugin and (SQuAD only) the text
perturbations, and no module of the package imports ``examples`` or ``scripts``."""
import ast
import os

import pytest

from conftest import ROOT

pytestmark = pytest.mark.quick  # bash scripts/test.sh --quick

PACKAGE = os.path.join(ROOT, "ir_fairseq")
PLUGIN = {"ir_fairseq", "ir_fairseq.compat", "ir_fairseq.ir_math", "ir_fairseq.tasks",
          "ir_fairseq.criterions", "ir_fairseq.models", "ir_fairseq.data"}
DOWNSTREAM = {"glue", "squad", "perturb", "convert", "pretraining"}
ENTRY_POINTS = {"ir_fairseq.cli", "ir_fairseq.__main__"}  # may reach every command's module


def layer(module):
    parts = module.split(".")
    if module in ENTRY_POINTS:
        return "entry"
    if len(parts) > 1 and parts[1] == "common":
        return "common"
    if len(parts) > 1 and parts[1] in DOWNSTREAM:
        return parts[1]
    if module in PLUGIN or ".".join(parts[:2]) in PLUGIN:
        return "plugin"
    raise AssertionError(f"{module} belongs to no layer: add it to README's Layout and here")


ALLOWED = {
    "common": {"common"},
    "plugin": {"common", "plugin"},
    **{name: {"common", "plugin", name} for name in DOWNSTREAM},
}
ALLOWED["squad"] = ALLOWED["squad"] | {"perturb"}


def package_modules():
    for folder, _, files in os.walk(PACKAGE):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                relative = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
                yield path, relative[:-len(".__init__")] if relative.endswith(".__init__") else relative


def imported_modules(path):
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            for alias in node.names:  # "from ir_fairseq import compat" names a module
                yield f"{node.module}.{alias.name}"


def test_every_module_imports_only_the_layers_below_it():
    violations, checked = [], 0
    for path, module in package_modules():
        own = layer(module)
        checked += 1
        for imported in imported_modules(path):
            if imported.split(".")[0] in ("examples", "scripts", "tests", "conftest"):
                violations.append(f"{module} imports {imported}")
            if not imported.startswith("ir_fairseq.") or own == "entry":
                continue
            try:
                target = layer(imported)
            except AssertionError:
                continue  # "from ir_fairseq.x import name": the module itself is checked above
            if target not in ALLOWED[own]:
                violations.append(f"{module} ({own}) imports {imported} ({target})")
    assert checked > 30
    assert not violations, "\n".join(violations)
