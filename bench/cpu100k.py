"""Median CPU time (time.process_time) of 20 requests after 5 per page, list cache off, in process, at 100,000 orders
on SQLite seeded by a tree's own bench module: compares two checkouts fairly on a loaded machine.

    .venv/bin/python bench/cpu100k.py ROOT [orders_list]   (ROOT: the checkout to measure, e.g. /work/wt-before)
"""
import sys, os, time, statistics, tempfile, importlib
root, mod = sys.argv[1], (sys.argv[2:] or ["orders_list"])[0]
sys.path.insert(0, root); os.chdir(root)
b = importlib.import_module(f"bench.{mod}")
from seller import create_app
from seller.extensions import db
from seller.models import User
folder = tempfile.mkdtemp()
app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder}/b.db", "SECRET_KEY": b.SECRET, "WTF_CSRF_ENABLED": False, "ORDERS_LIST_CACHE": False})
with app.app_context():
    db.create_all(); facts = b.seed(100_000)
    u = User(email="o@example.com", role="owner", password_hash="x"); db.session.add(u); db.session.commit()
    cookie = b.session_cookie(app, u); db.session.remove()
c = app.test_client(); c.environ_base.update({"REMOTE_ADDR": "127.0.0.1", "HTTP_USER_AGENT": b.USER_AGENT}); c.set_cookie("session", cookie)
for path in ["/orders", "/orders?status=Unshipped&sort=ship_by", f"/orders?q={facts['order_id']}", f"/orders?q={facts['sku']}", "/orders?per_page=100&page=2", f"/orders/{facts['order_id']}", "/returns", "/performance"]:
    for _ in range(5): c.get(path)
    ts = []
    for _ in range(20):
        t = time.process_time(); r = c.get(path); ts.append((time.process_time() - t) * 1000); assert r.status_code == 200, (path, r.status_code)
    print(f"{statistics.median(ts):8.2f} ms CPU  {path.split('?q=')[0] + ('?q=...' if '?q=' in path else '')}")
