"""The installed distribution states ranges, not pins, for what a user's environment already
has (torch, numpy): installing the plugin must not replace a CUDA torch. Read from the real
installed metadata (``Requires-Dist``), and checked against the versions installed here."""
from importlib import metadata

import pytest
from packaging.requirements import Requirement

pytestmark = pytest.mark.quick  # bash scripts/test.sh --quick


def requirements():
    return [Requirement(line) for line in metadata.requires("ir_fairseq") or []]


def test_torch_and_numpy_are_ranges_not_pins():
    declared = {r.name.lower(): r for r in requirements() if r.marker is None}
    for name in ("torch", "numpy"):
        assert name in declared, f"ir_fairseq does not declare {name}"
        operators = {spec.operator for spec in declared[name].specifier}
        assert not operators & {"==", "==="}, f"{declared[name]} pins {name}: it would replace the user's"
        assert ">=" in operators, f"{declared[name]} states no lower bound"


def test_the_versions_tested_here_satisfy_the_declared_ranges():
    for requirement in requirements():
        if requirement.marker is not None:  # extras: checked when installed
            try:
                installed = metadata.version(requirement.name)
            except metadata.PackageNotFoundError:
                continue
        else:
            installed = metadata.version(requirement.name)
        assert requirement.specifier.contains(installed, prereleases=True), (
            f"installed {requirement.name} {installed} is outside the declared {requirement}")
