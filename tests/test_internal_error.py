"""A rule that raises on one file becomes CCL999 for that file; the run goes on."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from conftest import FIXTURES, validate_report

FAULTY_RUN = textwrap.dedent(
    """\
    import sys
    from concurlint.checks import pickling

    original = pickling.LambdaSentToProcessPool.check

    def check(self, ctx, module):
        if module.path.endswith("poison.py"):
            raise ZeroDivisionError("injected failure")
        return original(self, ctx, module)

    pickling.LambdaSentToProcessPool.check = check
    from concurlint.cli import main
    sys.exit(main(sys.argv[1:]))
    """
)

HAZARD = (
    "from concurrent.futures import ProcessPoolExecutor\n\n"
    "def main(items):\n"
    "    with ProcessPoolExecutor() as pool:\n"
    "        return list(pool.map(lambda x: x * 2, items))\n"
)


def test_rule_crash_is_ccl999_for_that_file_only(tmp_path):
    (tmp_path / "good.py").write_text(HAZARD)
    (tmp_path / "poison.py").write_text((FIXTURES / "CCL999_poison.py").read_text())
    proc = subprocess.run([sys.executable, "-c", FAULTY_RUN, "report", str(tmp_path), "--format", "json",
                           "--no-cache", "-j", "1"], capture_output=True, text=True)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    doc = json.loads(proc.stdout)
    validate_report(doc)
    by_file = {}
    for f in doc["findings"]:
        by_file.setdefault(f["path"].rsplit("/", 1)[-1], []).append(f)
    assert [f["code"] for f in by_file["good.py"]] == ["CCL401"]
    [crash] = by_file["poison.py"]  # the fixture is clean otherwise (tests/test_fixtures.py)
    assert crash["code"] == "CCL999" and crash["severity"] == "error"
    assert "CCL401" in crash["message"] and "ZeroDivisionError: injected failure" in crash["message"]
