"""The example apps' toy identity provider: users, HS256 JWTs (standard
library only) and a revocation list. Not for production: the secret, the users
and the MFA code are constants."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

SECRET = b"example-only-secret"
MFA_CODE = "123456"


@dataclass
class User:
    email: str
    password: str
    role: str  # "admin" or "standard"


@dataclass
class Directory:
    users: dict[str, User] = field(
        default_factory=lambda: {
            "alice@example.com": User("alice@example.com", "correct horse", "admin"),
            "bob@example.com": User("bob@example.com", "battery staple", "standard"),
        }
    )
    revoked: set[str] = field(default_factory=set)  # jti of logged-out tokens
    api_keys: dict[str, str] = field(default_factory=dict)  # key id → owner

    def authenticate(self, email: str, password: str) -> User | None:
        user = self.users.get(email)
        if user is None or not hmac.compare_digest(user.password, password):
            return None
        return user

    def issue_token(self, user: User, ttl: int = 3600) -> tuple[str, dict[str, Any]]:
        """A signed token and the session it stands for."""
        now = int(time.time())
        claims = {"sub": user.email, "jti": uuid.uuid4().hex, "iat": now, "exp": now + ttl}
        return encode_jwt(claims), session_of(claims)

    def session_for(self, authorization: str | None) -> dict[str, Any] | None:
        """The session of a valid, unrevoked ``Bearer`` token, else ``None``."""
        if not authorization or not authorization.lower().startswith("bearer "):
            return None
        claims = decode_jwt(authorization[7:].strip())
        if claims is None or claims["jti"] in self.revoked or claims["exp"] < time.time():
            return None
        return session_of(claims)

    def new_api_key(self, owner: str) -> tuple[str, str]:
        key_id = "key_" + secrets.token_hex(6)
        self.api_keys[key_id] = owner
        return key_id, secrets.token_urlsafe(24)


def session_of(claims: dict[str, Any]) -> dict[str, Any]:
    """next-auth-like: ``token.jti`` gives the session id (hashed), ``user.email`` the actor."""
    return {
        "token": {"jti": claims["jti"]},
        "user": {"email": claims["sub"]},
        "expires": claims["exp"],
    }


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode_jwt(claims: dict[str, Any]) -> str:
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = _b64(json.dumps(claims).encode())
    signature = hmac.new(SECRET, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64(signature)}"


def decode_jwt(token: str) -> dict[str, Any] | None:
    try:
        header, payload, signature = token.split(".")
        expected = hmac.new(SECRET, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(expected, _unb64(signature)):
            return None
        claims: dict[str, Any] = json.loads(_unb64(payload))
    except ValueError:
        return None
    return claims if {"sub", "jti", "exp"} <= claims.keys() else None
