"""Import a generated 10,000-row Order Report into an empty database, import it again, then import
the next day's report of the same orders (the third that were Pending are paid: each becomes Unshipped).

    uv run python bench/import_orders.py                        # SQLite file in a temporary folder
    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/DB uv run python bench/import_orders.py

The target (issue 3): at most 5 s for the 10,000 rows. Prints wall-clock seconds for each run."""
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from seller import create_app, reports  # noqa: E402
from seller.config import normalize_database_url  # noqa: E402
from seller.extensions import db  # noqa: E402
from tests.fixtures.generate import order_report  # noqa: E402


def main(rows: int = 10_000):
    folder = tempfile.mkdtemp()
    url = normalize_database_url(os.environ.get("BENCH_DATABASE_URL", "")) or f"sqlite:///{folder}/bench.db"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench"})
    data, later = order_report(rows), order_report(rows, later=True)
    with app.app_context():
        db.drop_all()
        db.create_all()
        print(f"{db.engine.dialect.name}, {rows} rows ({len(data) / 1e6:.1f} MB)")
        for run, report in (("new", data), ("re-import", data), ("next day", later)):
            start = time.perf_counter()
            result = reports.import_report(report)
            seconds = time.perf_counter() - start
            assert result.ok, result.errors[:5]
            print(f"{run:10} {seconds:6.2f} s   {result.summary()}")
        if db.engine.dialect.name == "postgresql":
            db.drop_all()


if __name__ == "__main__":
    main()
