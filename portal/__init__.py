"""The portal: a Flask app built by create_app(); nothing happens at import."""

from flask import Flask, g, has_request_context, request, session
from flask_babel import get_locale
from flask_login import current_user

import tasks
from portal import hooks, models, tenancy  # noqa: F401  (models: tables known to Flask-Migrate)
from portal.cli import jsr
from portal.config import ROOT, Config
from portal.extensions import babel, configure_sqlite_connections, csrf, db, limiter, login, migrate
from portal.services import executions, outbox
from portal.services import runtime as runtime_service
from portal.services import tenants as tenants_service
from portal.web import (
    account,
    admin,
    api,
    audit,
    auth,
    dashboard,
    dead_letters,
    errors,
    labels,
    libraries,
    metrics,
    pages,
    security,
    tenants,
)
from portal.web import executions as executions_pages
from portal.web import scripts as scripts_pages
from portal.web import session as session_wiring


def create_app(overrides: dict | None = None) -> Flask:
    """Build the app; `overrides` (tests) win over the environment."""
    config = Config()
    app = Flask(
        __name__,
        root_path=str(ROOT),
        instance_path=str(config.INSTANCE_PATH),
        template_folder="templates",
        static_folder="static",
    )
    app.config.from_object(config)
    app.config.update(overrides or {})
    app.config["MAX_CONTENT_LENGTH"] = app.config["JSR_MAX_BODY_BYTES"]  # larger bodies: 413

    configure_sqlite_connections()
    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    login.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    babel.init_app(app, locale_selector=_select_locale, timezone_selector=_select_timezone,
                   default_translation_directories=str(ROOT / "translations"))

    tenancy.init_app(app)
    tasks.configure(app)
    app.extensions[executions.DISPATCH_KEY] = tasks.run_execution
    app.extensions[executions.WAKE_KEY] = tasks.run_due_executions
    app.extensions[executions.WAKE_LATER_KEY] = tasks.run_due_executions_later
    app.extensions[executions.LATER_KEY] = tasks.run_execution_later
    app.extensions[outbox.DELIVER_KEY] = tasks.deliver_events
    app.extensions[metrics.QUEUE_DEPTH_KEY] = tasks.huey.pending_count
    runtime_service.init_app(app)
    session_wiring.init_app(app)
    errors.init_app(app)
    security.init_app(app)
    for feature in (auth, api, hooks, dashboard, scripts_pages, executions_pages, dead_letters, libraries, admin,
                    tenants, account, audit):
        app.register_blueprint(feature.bp)
    labels.init_app(app)
    pages.init_app(app)
    app.register_blueprint(metrics.bp)
    app.cli.add_command(jsr)

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    app.jinja_env.globals["current_locale"] = lambda: str(get_locale())
    return app


def _select_locale() -> str:
    """Explicit ?lang= wins, then the choice of this session, then the signed-in user's stored one,
    then Accept-Language."""
    supported = ["en", "ru", "uz"]
    if not has_request_context():
        return "en"  # CLI, workers, tests: messages stored or logged in English
    lang = request.args.get("lang") or session.get("lang")
    if lang not in supported and current_user.is_authenticated:
        lang = current_user.language or _tenant_default("language")
    if lang in supported:
        return lang
    return request.accept_languages.best_match(supported) or "en"


def _select_timezone() -> str:
    """Times are shown in the signed-in user's time zone, else their tenant's default, else UTC."""
    if has_request_context() and current_user.is_authenticated:
        return current_user.timezone or _tenant_default("timezone") or "UTC"
    return "UTC"


def _tenant_default(setting: str) -> str | None:
    """The default language or time zone of the signed-in member's tenant (its org admin sets them; read once
    a request), None for a superadmin."""
    if "tenant_defaults" not in g:
        g.tenant_defaults = tenants_service.defaults(current_user.tenant_id) if current_user.tenant_id else {}
    return g.tenant_defaults.get(setting)
