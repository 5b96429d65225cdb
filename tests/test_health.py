"""The app factory builds without touching the network and answers /healthz."""

from portal import create_app
from portal.services import runtime as runtime_service


def test_healthz(tmp_path):
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'h.sqlite3'}", "TESTING": True})
    response = app.test_client().get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


def test_cli_runs_a_file(tmp_path):
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'h.sqlite3'}", "TESTING": True})
    script = tmp_path / "s.js"
    script.write_text("function main(input) {\n  console.log('n is', input.n);\n  return input.n * 2;\n}\n")
    result = app.test_cli_runner().invoke(args=["jsr", "run", str(script), "--input", '{"n": 21}'])
    assert result.exit_code == 0 and "42" in result.stdout and "n is 21" in result.stderr
    broken = tmp_path / "b.js"
    broken.write_text("function main() {\n  return 1 +;\n}\n")
    failed = app.test_cli_runner().invoke(args=["jsr", "run", str(broken)])
    assert failed.exit_code == 1 and "SyntaxError" in failed.stderr and "2:" in failed.stderr
    with app.app_context():
        assert runtime_service.pool().close(timeout=5)  # its runner processes stop with it
