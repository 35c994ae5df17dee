"""app.js builds hrefs/srcs from API data only through safeUrl (run in Node when present)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

APP_JS = Path(__file__).resolve().parents[3] / "src" / "modiste" / "web" / "static" / "app.js"
NODE = shutil.which("node")


def test_el_sends_every_href_and_src_through_safe_url() -> None:
    source = APP_JS.read_text(encoding="utf-8")
    assert 'k === "href" || k === "src") node.setAttribute(k, safeUrl(' in source
    assert '$("#hero").src = safeUrl(' in source


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_safe_url_in_node() -> None:
    source = APP_JS.read_text(encoding="utf-8")
    match = re.search(r"^function safeUrl\(u\) \{.*?^\}", source, re.S | re.M)
    assert match, "safeUrl not found in app.js"
    cases = [
        "javascript:alert(document.domain)",
        "JaVaScRiPt:alert(1)",
        " java\tscript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "/v1/images/3/thumb?size=256",
        "https://shop.example/p",
    ]
    script = (
        'const location = { origin: "http://127.0.0.1:8000" };\n'
        f"{match.group(0)}\n"
        f"console.log(JSON.stringify({json.dumps(cases)}.map(safeUrl)));"
    )
    out = subprocess.run(
        [NODE or "node", "-e", script], capture_output=True, text=True, timeout=30, check=True
    )
    assert json.loads(out.stdout) == [
        "",
        "",
        "",
        "",
        "http://127.0.0.1:8000/v1/images/3/thumb?size=256",
        "https://shop.example/p",
    ]
