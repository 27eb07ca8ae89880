"""`concurlint fix` for CCL508 (``loop=`` where Python 3.10 removed it), through the installed
command: safe with a target of 3.10 or later, unsafe without a target, nothing to report or fix
with a target older than 3.10; every such call of the module is fixed with the reported one, the
layout (a trailing comma, one argument per line) is kept, and the fixed program runs on this
Python. Every fix is checked by tests/fixcheck.py."""
from __future__ import annotations

import subprocess
import sys
import textwrap

from fixcheck import check_fix, findings

BOT = textwrap.dedent('''\
    """A flood-controlled IRC sender written for Python 3.5 (run as a script)."""
    import asyncio
    from asyncio import sleep as pause


    class Sender:
        def __init__(self, loop):
            self.loop = loop
            self.queue = asyncio.Queue(loop=loop)  # lines waiting to go out

        async def send_all(self, lines, delay=0.0):
            for line in lines:
                await self.queue.put(line)
            sent = []
            while not self.queue.empty():
                sent.append(await self.queue.get())
                await pause(
                    delay,
                    loop=self.loop,
                )
            done = await asyncio.gather(self.flush(), loop=self.loop)
            return sent + done

        async def flush(self):
            return "flushed"


    async def main():
        sender = Sender(asyncio.get_running_loop())
        print(await sender.send_all(["NICK bot", "JOIN #python"]))


    if __name__ == "__main__":
        asyncio.run(main())
''')


def _ccl508(found):
    return [f for f in found if f["code"] == "CCL508"]


def test_safe_with_a_310_target_every_call_of_the_module_and_the_program_runs(tmp_path):
    (tmp_path / "bot.py").write_text(BOT, encoding="utf-8")
    before = subprocess.run([sys.executable, "bot.py"], cwd=tmp_path, capture_output=True, text=True)
    if sys.version_info >= (3, 10):
        assert before.returncode != 0 and "TypeError" in before.stderr and "loop" in before.stderr, before.stderr
    facts = check_fix(tmp_path, "bot.py", "--target-version", "3.12")
    assert "Fixed 1 finding in 1 file" in facts["output"], facts["output"]
    text = (tmp_path / "bot.py").read_text(encoding="utf-8")
    assert "loop=" not in text
    assert "self.queue = asyncio.Queue()  # lines waiting to go out\n" in text
    assert "            await pause(\n                delay,\n            )\n" in text
    assert "done = await asyncio.gather(self.flush())\n" in text
    run = subprocess.run([sys.executable, "bot.py"], cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == 0 and "['NICK bot', 'JOIN #python', 'flushed']" in run.stdout, run.stderr


def test_unsafe_without_a_target_and_nothing_before_310(tmp_path):
    (tmp_path / "bot.py").write_text(BOT, encoding="utf-8")
    found = _ccl508(findings("bot.py", tmp_path))
    assert len(found) == 1 and found[0]["line"] == 9 and found[0]["fix"]["applicability"] == "unsafe"
    assert [r["line"] for r in found[0]["related"]] == [17, 21]
    facts = check_fix(tmp_path, "bot.py")
    assert "[unsafe fix available: --unsafe-fixes]" in facts["output"]
    assert (tmp_path / "bot.py").read_text(encoding="utf-8") == BOT
    assert _ccl508(findings("bot.py", tmp_path, "--target-version", "3.9")) == []
