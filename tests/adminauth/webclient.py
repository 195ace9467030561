"""A tiny admin client for a real server: fetch the login page's CSRF cookie, post a login."""

from __future__ import annotations

import http.client
import re
from dataclasses import dataclass, field
from urllib.parse import urlencode

_CSRF = re.compile(r"csrftoken=([^;]+)")


@dataclass
class AdminClient:
    port: int
    path: str = "/admin/login/"
    headers: dict[str, str] = field(default_factory=dict)
    csrf: str = ""

    def _conn(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)

    def get(self, path: str) -> tuple[int, str]:
        conn = self._conn()
        try:
            conn.request("GET", path, headers=self.headers)
            resp = conn.getresponse()
            return resp.status, resp.read().decode()
        finally:
            conn.close()

    def login(self, username: str, password: str, token: str = "") -> int:
        """POST the login form; 302 means logged in, 200 refused, 429 locked out."""
        conn = self._conn()
        try:
            if not self.csrf:
                conn.request("GET", self.path, headers=self.headers)
                resp = conn.getresponse()
                resp.read()
                match = _CSRF.search(resp.getheader("Set-Cookie") or "")
                assert match, "the login page sets a CSRF cookie"
                self.csrf = match.group(1)
            body = urlencode(
                {"username": username, "password": password, "otp_token": token, "csrfmiddlewaretoken": self.csrf}
            )
            headers = {
                **self.headers,
                "Content-Type": "application/x-www-form-urlencoded",
                "Cookie": f"csrftoken={self.csrf}",
            }
            conn.request("POST", self.path, body=body, headers=headers)
            resp = conn.getresponse()
            resp.read()
            return resp.status
        finally:
            conn.close()
