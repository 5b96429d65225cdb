"""The portal: a Flask app built by create_app(); nothing happens at import."""

from flask import Flask, request, session

from portal.cli import jsr
from portal.config import INSTANCE, ROOT, Config
from portal.extensions import babel, csrf, db, login, migrate
from portal.services import runtime as runtime_service


def create_app(overrides: dict | None = None) -> Flask:
    """Build the app; `overrides` (tests) win over the environment."""
    app = Flask(
        __name__,
        root_path=str(ROOT),
        instance_path=str(INSTANCE),
        template_folder="templates",
        static_folder="static",
    )
    app.config.from_object(Config())
    app.config.update(overrides or {})

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    login.init_app(app)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=_select_locale,
                   default_translation_directories=str(ROOT / "translations"))

    runtime_service.init_app(app)
    app.cli.add_command(jsr)

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    return app


def _select_locale() -> str:
    """Explicit ?lang= wins, then the user's choice in the session, then Accept-Language."""
    supported = ["en", "ru", "uz"]
    lang = request.args.get("lang") or session.get("lang")
    if lang in supported:
        return lang
    return request.accept_languages.best_match(supported) or "en"
