"""The baseline of the webhook benchmark: a bare Flask JSON endpoint, served by gunicorn with the portal's
settings (gunicorn.conf.py): `gunicorn -c gunicorn.conf.py 'bench.bare_app:create_app()'`."""

from flask import Flask, jsonify, request


def create_app() -> Flask:
    app = Flask(__name__)

    @app.route("/echo", methods=["POST"])
    def echo():
        """What the benchmark's webhook script does: parse the JSON body and answer a small JSON object."""
        return jsonify({"ok": True, "n": (request.get_json(silent=True) or {}).get("n")})

    @app.get("/healthz")
    def healthz():
        return jsonify({"status": "ok"})

    return app
