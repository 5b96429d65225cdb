"""Response headers and cookie flags every answer carries.

* The session cookie is `HttpOnly` and `SameSite=Lax`, and `Secure` whenever the request came over
  HTTPS (the portal issues no other cookie: sign-in never sets a remember-me cookie, whose flags
  are set alike for the day it does). Behind a reverse proxy, set JSR_PROXY_HOPS to the number of
  proxies: ProxyFix then takes the scheme and client address from their X-Forwarded-* headers
  (never set it without a proxy, or clients could claim any address and scheme).
* `X-Content-Type-Options: nosniff`, `Referrer-Policy: same-origin`, no framing (`frame-ancestors`
  and `X-Frame-Options`), and a Content-Security-Policy that Monaco and htmx work under: scripts
  only from this site (no inline script, no eval), inline styles (Monaco and htmx inject them), web
  workers from blob: URLs (Monaco's language workers), fonts and images from data: URLs.
* `Cache-Control: no-store` on API answers and on every page of a signed-in user.
"""

from flask import Flask, has_request_context, request
from flask.sessions import SecureCookieSessionInterface
from flask_login import current_user
from werkzeug.middleware.proxy_fix import ProxyFix

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'", "script-src 'self'", "style-src 'self' 'unsafe-inline'", "img-src 'self' data:",
    "font-src 'self' data:", "worker-src 'self' blob:", "connect-src 'self'", "object-src 'none'",
    "base-uri 'self'", "form-action 'self'", "frame-ancestors 'none'",
])
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
}


class _SessionInterface(SecureCookieSessionInterface):
    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"] or (has_request_context() and request.is_secure))


def init_app(app: Flask) -> None:
    app.session_interface = _SessionInterface()
    hops = app.config["JSR_PROXY_HOPS"]
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)

    @app.after_request
    def secure_response(response):
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        if request.path.startswith("/api/") or (request.endpoint != "static" and current_user.is_authenticated):
            response.headers["Cache-Control"] = "no-store"
        return response
