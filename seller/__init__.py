"""Seller Desk: Manage Orders and Manage Returns for small sellers."""
from pathlib import Path

from flask import Flask

from . import db as database, i18n, security
from .config import from_environment, secret_key
from .extensions import csrf, db, limiter, login_manager, migrate


def create_app(test_config: dict | None = None) -> Flask:
    """Config -> extensions -> blueprints -> error handlers and CLI."""
    app = Flask(__name__, instance_relative_config=True)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.from_mapping(from_environment(app.instance_path))
    if test_config:
        app.config.from_mapping(test_config)
    if app.config.get("SELLER_DEMO"):  # a demo desk sends no e-mail and buys no real postage, whatever is set
        app.config.update(SMTP_HOST="", EASYPOST_API_KEY="")
    if not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = secret_key(app.instance_path)

    db.init_app(app)
    database.init_app(app, db)
    migrate.init_app(app, db, directory=str(Path(__file__).parent / "migrations"))
    csrf.init_app(app)
    login_manager.init_app(app)
    limiter.init_app(app)
    i18n.init_app(app)

    from . import auth, errors, htmx, templating, views
    from .contact import bp as contact_bp
    from .orders import bp as orders_bp
    from .pack import bp as pack_bp
    from .refunds import bp as refunds_bp
    from .returns import bp as returns_bp
    from .settings import bp as settings_bp
    from .shipping import bp as shipping_bp
    from .performance import bp as performance_bp

    app.register_blueprint(auth.bp)
    app.register_blueprint(views.bp)
    app.register_blueprint(orders_bp)
    app.register_blueprint(pack_bp)
    app.register_blueprint(refunds_bp)
    app.register_blueprint(contact_bp)
    app.register_blueprint(returns_bp)
    app.register_blueprint(settings_bp)
    app.register_blueprint(shipping_bp)
    app.register_blueprint(performance_bp)
    auth.init_login(app)
    templating.init_app(app)
    htmx.init_app(app)
    security.init_app(app)
    errors.init_app(app)

    from . import cli
    cli.init_app(app)
    return app
