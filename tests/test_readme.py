"""The README's quickstart runs as written and reaches what it claims."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def _quickstart() -> str:
    text = README.read_text()
    section = text[text.index("## Quickstart") :]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_quickstart_runs_and_trains_digits(capsys):
    namespace: dict = {}
    exec(compile(_quickstart(), str(README), "exec"), namespace)
    out = capsys.readouterr().out
    assert "535,040" in out and "778" in out  # the MNIST MLP's summary
    accuracy = float(re.search(r"digits test accuracy: ([\d.]+)%", out).group(1))
    assert accuracy >= 96.0
    assert set(namespace["grads"]) == {str(i) for i in range(6)}


def test_readme_test_command_is_what_ci_runs():
    ci = (README.parent / ".ci" / "run").read_text()
    text = README.read_text()
    section = text[text.index("## Run the tests") :]
    command = re.search(r"```bash\n(.*?)\n```", section, re.S).group(1)
    assert command in ci.splitlines()
