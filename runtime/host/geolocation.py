"""`geolocation(ip)` for RudderStack transformations: the operator's GEOLOCATION_URL service.

As rudder-transformer does (ivmFactory.js): the address is validated, then
`GET {GEOLOCATION_URL}/geoip/{ip}` with a 1 s time-out; anything but a 200 with a JSON body
rejects. The service is the operator's, so its own host:port is allowed past the
private-address block, and nothing else is: redirects elsewhere are checked as usual.
"""

import ipaddress
import json
from typing import Any

from urllib3.util import parse_url

from runtime.host import HostCall, HostError
from runtime.host.http import HttpHandler
from runtime.ssrf import SCHEMES, AddressPolicy

TIMEOUT_MS = 1000


class GeolocationHandler:
    def __init__(self, base_url: str | None, max_bytes: int = 64 * 1024) -> None:
        self.base_url = (base_url or "").rstrip("/")
        self.http: HttpHandler | None = None
        if self.base_url:
            parsed = parse_url(self.base_url)
            port = parsed.port or SCHEMES.get(parsed.scheme or "", 80)
            policy = AddressPolicy(frozenset({((parsed.host or "").strip("[]").lower(), port)}))
            self.http = HttpHandler(policy, max_bytes=max_bytes, default_timeout_ms=TIMEOUT_MS)

    def __call__(self, call: HostCall) -> Any:
        ip = call.args[0] if call.args else None
        if not ip:
            raise HostError("ip address is required", name="Error")
        try:
            address = ipaddress.ip_address(ip if isinstance(ip, str) else "")
        except ValueError:
            raise HostError("invalid ip address", name="Error") from None
        if self.http is None:
            raise HostError("geolocation is not available right now", name="Error")
        response = self.http(HostCall(call.tenant_id, "http", "get", [f"{self.base_url}/geoip/{address}"],
                                      call.deadline, call.run))
        if response["status"] != 200:
            raise HostError(f"request to fetch geolocation failed with status code: {response['status']}",
                            name="Error")
        body = response["body"]
        if isinstance(body, str):  # parsed whatever the content type says, as res.json() does
            try:
                body = json.loads(body)
            except ValueError:
                raise HostError("the geolocation service did not answer with JSON", name="Error") from None
        return body
