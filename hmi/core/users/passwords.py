"""Salted, slow password hashes (scrypt) and the minimum password rules.

A stored hash carries its own parameters, so the cost can be raised later without
invalidating existing passwords (a login re-hashes with the current parameters):

    scrypt$<log2 N>$<r>$<p>$<salt, base64>$<key, base64>

The default cost follows the OWASP recommendation for scrypt (N=2^17, r=8, p=1:
128 MiB and about 0.4 s per hash on a control-room PC). Tests pass a cheap
:class:`ScryptParams` explicitly; the default is never lowered for them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
from dataclasses import dataclass

PREFIX = "scrypt"
SALT_BYTES = 16
KEY_BYTES = 32
MAX_PASSWORD_CHARS = 256  # a longer "password" is a denial-of-service attempt, not a password
MIN_PASSWORD_CHARS = 8

# Passwords that pass the length and character-class rules yet are guessed first.
_COMMON = {
    "password1",
    "password123",
    "passw0rd",
    "admin123",
    "admin1234",
    "administrator1",
    "operator1",
    "qwerty123",
    "1qaz2wsx",
    "abc12345",
    "a1234567",
    "12345678a",
    "iloveyou1",
    "welcome1",
    "changeme1",
}


class PasswordError(ValueError):
    """A new password breaks the password rules; the message lists which."""


@dataclass(frozen=True, slots=True)
class ScryptParams:
    """scrypt cost: N = 2**log2_n, block size r, parallelism p."""

    log2_n: int = 17
    r: int = 8
    p: int = 1

    @property
    def maxmem(self) -> int:
        """Memory limit handed to OpenSSL (it refuses anything above 32 MiB by default)."""
        return int(128 * self.r * (2**self.log2_n) * self.p + 16 * 1024 * 1024)

    def is_weaker_than(self, other: ScryptParams) -> bool:
        """True when these parameters cost less than ``other`` (time to re-hash)."""
        return (self.log2_n, self.r, self.p) < (other.log2_n, other.r, other.p)


DEFAULT_PARAMS = ScryptParams()
#: For tests only (passed explicitly): microseconds per hash, no security.
TEST_PARAMS = ScryptParams(log2_n=4, r=1, p=1)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _derive(password: str, salt: bytes, params: ScryptParams) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"),
        salt=salt,
        n=2**params.log2_n,
        r=params.r,
        p=params.p,
        maxmem=params.maxmem,
        dklen=KEY_BYTES,
    )


def hash_password(password: str, params: ScryptParams = DEFAULT_PARAMS) -> str:
    """Hash with a fresh random salt; the result is safe to store."""
    if len(password) > MAX_PASSWORD_CHARS:
        raise PasswordError(f"password is longer than {MAX_PASSWORD_CHARS} characters")
    salt = os.urandom(SALT_BYTES)
    key = _derive(password, salt, params)
    return f"{PREFIX}${params.log2_n}${params.r}${params.p}${_b64(salt)}${_b64(key)}"


def parse_hash(stored: str) -> tuple[ScryptParams, bytes, bytes]:
    """(params, salt, key) of a stored hash; ValueError when it is not one of ours."""
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != PREFIX:
        raise ValueError("not a gas-hmi scrypt hash")
    try:
        params = ScryptParams(int(parts[1]), int(parts[2]), int(parts[3]))
        salt = base64.b64decode(parts[4], validate=True)
        key = base64.b64decode(parts[5], validate=True)
    except (ValueError, binascii.Error) as exc:
        raise ValueError(f"malformed password hash: {exc}") from None
    if (
        not (1 <= params.log2_n <= 24 and 1 <= params.r <= 32 and 1 <= params.p <= 16)
        or not salt
        or not key
    ):
        raise ValueError("password hash parameters out of range")
    return params, salt, key


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` matches ``stored``; constant-time comparison of the keys."""
    try:
        params, salt, key = parse_hash(stored)
    except ValueError:
        return False
    if len(password) > MAX_PASSWORD_CHARS:
        return False
    candidate = _derive(password, salt, params)
    return hmac.compare_digest(candidate, key)


def hash_params(stored: str) -> ScryptParams | None:
    """Parameters a stored hash was made with (None when unreadable)."""
    try:
        return parse_hash(stored)[0]
    except ValueError:
        return None


def password_problems(
    password: str, user: str = "", min_chars: int = MIN_PASSWORD_CHARS
) -> list[str]:
    """Every rule a new password breaks (empty list: acceptable).

    Rules: at least ``min_chars`` characters (at most 256), at least two of letters /
    digits / other characters, not one repeated character, not containing the user
    name, not a well-known password.
    """
    problems: list[str] = []
    if len(password) < min_chars:
        problems.append(f"at least {min_chars} characters")
    if len(password) > MAX_PASSWORD_CHARS:
        problems.append(f"at most {MAX_PASSWORD_CHARS} characters")
    classes = sum(
        (
            bool(re.search(r"[^\W\d_]", password)),  # letters (any script)
            bool(re.search(r"\d", password)),
            bool(re.search(r"[\W_]", password)),
        )
    )
    if classes < 2:
        problems.append("at least two of: letters, digits, other characters")
    if password and len(set(password)) == 1:
        problems.append("not one repeated character")
    if user and len(user) >= 3 and user.lower() in password.lower():
        problems.append("must not contain the user name")
    if password.lower() in _COMMON:
        problems.append("too common")
    return problems


def check_password(password: str, user: str = "", min_chars: int = MIN_PASSWORD_CHARS) -> None:
    """Raise :class:`PasswordError` listing every broken rule."""
    problems = password_problems(password, user, min_chars)
    if problems:
        raise PasswordError("password rejected: " + "; ".join(problems))
