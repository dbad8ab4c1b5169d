"""Load, the short version (bench/load.py is the full one: 25 users for 60 s): a few Locust users for a few
seconds against gunicorn on this test's database, with the issue's mix. No 5xx, no failed request, and the money
and history checks hold afterwards. The p95 is printed, not asserted here: on a shared, loaded test machine it
measures the machine (bench/load.py asserts p95 <= 500 ms)."""
import json
import os
import subprocess
import sys

import pytest

from conftest import PG, ROOT, fresh_pg_database

pytestmark = pytest.mark.slow


def test_a_short_load_run_has_no_5xx_and_keeps_the_money_right(tmp_path):
    args = ["--users", "6", "--seconds", "15", "--think", "0.1,0.5", "--orders", "300", "--workers", "2",
            "--json", str(tmp_path / "r.json")]
    if PG:
        args += ["--database", fresh_pg_database("load")]
    run = subprocess.run([sys.executable, "bench/load.py", *args], cwd=ROOT, capture_output=True, text=True,
                         env=dict(os.environ), timeout=600)
    print(run.stdout)
    result = json.loads((tmp_path / "r.json").read_text())
    assert result["5xx"] == 0 and result["failures"] == 0, run.stdout
    assert result["checks_ok"], result["checks"]
    kinds = result["kinds"]
    assert kinds["list & search"]["requests"] > kinds["order page"]["requests"]
    assert {"list & search", "order page", "shipping: submit", "slip"} <= set(kinds), kinds
