"""The README's examples run as written: the Python block and every CLI line."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def test_readme_set_up_is_exactly_two_make_commands() -> None:
    setup = _blocks("bash")[0]
    commands = [line.split("#")[0].strip() for line in setup.splitlines() if line.strip()]
    assert commands == ["make demo", "make test"]
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci


def test_python_example_runs(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(ROOT)
    (code,) = _blocks("python")
    exec(compile(code, "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "dana | We freeze deploys on Fridays after INC-42." in out
    assert "record:" in out


def test_cli_example_runs(tmp_path: Path) -> None:
    lines = [line for line in _blocks("bash")[1].splitlines() if line.strip()]
    lore = str(Path(sys.executable).with_name("lore"))
    env = {**os.environ, "LORE_DB": str(tmp_path / "lore.db")}
    outputs = []
    for line in lines:
        argv = shlex.split(line)
        assert argv[0] == "lore"
        done = subprocess.run(
            [lore, *argv[1:]], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
        )
        assert done.returncode == 0, f"{line}\n{done.stderr}"
        if "--json" in argv:
            json.loads(done.stdout)
        outputs.append(done.stdout)
    assert "failed 0" in outputs[1] or "0 failed" in outputs[1]
    assert "record:" in outputs[2]
    stats = json.loads(outputs[-1])
    assert stats["records"] > 150 and stats["embedder"] == "minilm:384"
