"""Every Python example in docs/ runs as written (slow: several train real models)."""

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
BLOCKS = [
    pytest.param(path, code, id=f"{path.name}:{text[:start].count(chr(10)) + 1}")
    for path in sorted(DOCS.glob("*.md"))
    for text in [path.read_text()]
    for start, code in (
        (m.start(), m.group(1)) for m in re.finditer(r"```python\n(.*?)```", text, re.S)
    )
]


@pytest.mark.slow
@pytest.mark.parametrize(("path", "code"), BLOCKS)
def test_docs_example_runs(path, code, capsys):
    exec(compile(code, str(path), "exec"), {})
