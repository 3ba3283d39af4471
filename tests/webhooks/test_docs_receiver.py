"""The receiver's check printed in docs/webhooks.md works on what Stockroom really sends."""

import re
import time
from pathlib import Path
from typing import Any

from webhooks.services import signature_header

DOC = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"


def _documented_check() -> Any:
    [code] = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    namespace: dict[str, Any] = {}
    exec(compile(code, str(DOC), "exec"), namespace)  # noqa: S102 - our own documentation
    return namespace["stockroom_signature_ok"]


def test_the_documented_check_accepts_a_real_signature_and_refuses_forgeries():
    check = _documented_check()
    body = b'{"id": "evt_1", "type": "order.paid", "data": {}}'
    now = int(time.time())
    header = signature_header(secret="whsec_doc", body=body, timestamp=now)
    assert check("whsec_doc", header, body)
    assert not check("another secret", header, body)
    assert not check("whsec_doc", header, body + b" ")
    stale = signature_header(secret="whsec_doc", body=body, timestamp=now - 600)
    assert not check("whsec_doc", stale, body)
    assert not check("whsec_doc", "garbage", body)
    assert not check("whsec_doc", "t=١٢,v1=00", body)
