"""The suite's own rules, run as a user's pytest would run them: with the shared data present
(CI) a skipped test fails the run, whether a test or a whole module skips; without it a skip
is a skip."""
import os
import shutil

import pytest

from conftest import ROOT

pytest_plugins = ["pytester"]

SKIPPING = {
    "test_skips_a_test": "import pytest\n\n@pytest.mark.skipif(True, reason='no such data')\n"
                         "def test_needs_data():\n    pass\n\ndef test_runs():\n    pass\n",
    "test_skips_a_module": "import pytest\n\npytest.importorskip('no_such_module_here')\n\n"
                           "def test_never_collected():\n    pass\n",
}


@pytest.mark.parametrize("module", sorted(SKIPPING))
@pytest.mark.parametrize("shared", [True, False])
def test_a_skip_fails_the_run_only_when_the_shared_data_is_there(pytester, monkeypatch, module, shared):
    shutil.copy(os.path.join(ROOT, "tests", "conftest.py"), pytester.path / "conftest.py")
    pytester.makepyfile(**{module: SKIPPING[module], "test_other": "def test_elsewhere():\n    pass\n"})
    if shared:
        monkeypatch.setenv("IR_FAIRSEQ_SHARED_DATA", str(pytester.path))
    else:
        monkeypatch.delenv("IR_FAIRSEQ_SHARED_DATA", raising=False)
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-o", "addopts=")
    if not shared:
        assert result.ret == 0
        result.assert_outcomes(skipped=1, passed=2 if module == "test_skips_a_test" else 1)
        return
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*skipped although IR_FAIRSEQ_SHARED_DATA is set (every test must run)*"])
