"""ID numbers and phones at rest (PIPL arts. 28 and 51: an ID number is sensitive personal information): sealed with
AES-256-GCM under a key from the environment, with a keyed hash for equality and the last four characters in clear.

Three columns stand for one value (subsidy/models/sealed.py maps them; domain code reads and writes the plaintext
attribute and never sees them):

- `<field>_sealed`: `<key id>:<base64url(nonce ‖ ciphertext ‖ tag)>`, the value encrypted with the data key named by
  the id. The field's name is the associated data, so a household's phone cannot be passed off as its ID number. ""
  stays "" (no phone): that a phone is missing is no secret worth a ciphertext.
- `<field>_hmac`: HMAC-SHA256 of the value under the lookup key (hex). Equality lookups and the district's
  uniqueness of ID numbers compare this column, never the ciphertext (which differs at every write: random nonce).
- `<field>_tail`: the last four characters, which every masked display shows anyway (`370902********1234`,
  `138****5678`): the search by trailing digits.
- `household.id_number_tail6_hmac`: the lookup hash of an ID number's last six characters (`tail6_blind`), for the
  search by them: two characters more than any display shows, so not in clear. Hashed as a field of its own name,
  so that it never equals the hash of anything else.

Keys. SUBSIDY_DATA_KEY (`<id>:<secret>`) encrypts; the keys in SUBSIDY_DATA_OLD_KEYS still decrypt, and `subsidy keys
rotate` re-encrypts every row under the current key (subsidy/core/datakeys.py), after which the old key may go. Each
secret is stretched to 256 bits with HKDF, so any secret of 32 characters or more will do.

SUBSIDY_LOOKUP_KEY keys the HMAC and does not rotate: the unique constraint on `household.id_number_hmac` is what
makes an ID number once-in-the-district whatever the concurrency, and while half the rows were hashed under one key
and half under another the database could not enforce it. Changing it means recomputing every hash with the app
stopped, which is why it is separate from the data key (rotating that is routine; its hashes stay valid). It must be
kept as secret as the data key: ID numbers have little entropy, so whoever holds the lookup key and the table could
find them by trying every plausible number.

A value that does not decrypt (an unknown key id, a wrong secret, an altered row) raises `VaultError` naming the key
id: never a silent garbage plaintext. The server and the CLI check the configured keys against the stored rows when
they start (subsidy/core/datakeys.py, `check_keys`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from subsidy.core.settings import Settings, get_settings

TAIL = 4
TAIL6 = 6
_NONCE = 12


class VaultError(RuntimeError):
    """A value cannot be sealed or opened with the configured keys (a configuration error, not a user's)."""


def _derive(secret: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(secret)


@dataclass
class Vault:
    current_id: str | None
    ciphers: dict[str, AESGCM]
    lookup_key: bytes | None

    @classmethod
    def from_settings(cls, settings: Settings) -> Vault:
        keys = settings.data_keys
        ciphers = {key_id: AESGCM(_derive(keys.get(key_id), b"subsidy data at rest v1")) for key_id in keys.ids()}
        lookup = _derive(settings.lookup_key.encode(), b"subsidy lookup hmac v1") if settings.lookup_key else None
        return cls(keys.current()[0] if keys.configured else None, ciphers, lookup)

    def seal(self, field: str, value: str | None) -> str | None:
        if not value:
            return value
        if self.current_id is None:
            raise VaultError("SUBSIDY_DATA_KEY is not set: ID numbers and phones cannot be stored without it "
                             "(see the README, production).")
        nonce = os.urandom(_NONCE)
        sealed = self.ciphers[self.current_id].encrypt(nonce, value.encode(), field.encode())
        return f"{self.current_id}:{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def open(self, field: str, token: str | None) -> str | None:
        if not token:
            return token
        key_id, sep, body = token.partition(":")
        cipher = self.ciphers.get(key_id)
        if not sep or cipher is None:
            raise VaultError(f"A stored {field} is sealed under data key {key_id!r}, which is neither SUBSIDY_DATA_KEY "
                             "nor in SUBSIDY_DATA_OLD_KEYS: set the key it was written with.")
        raw = base64.urlsafe_b64decode(body)
        try:
            return cipher.decrypt(raw[:_NONCE], raw[_NONCE:], field.encode()).decode()
        except InvalidTag:
            raise VaultError(f"A stored {field} does not decrypt under data key {key_id!r}: the secret configured "
                             "for that id is not the one it was written with, or the row was altered.") from None

    def blind(self, field: str, value: str | None) -> str:
        """The lookup hash of `value` ("" for none): equal values, equal hashes; nothing else to learn from it."""
        if not value:
            return ""
        if self.lookup_key is None:
            raise VaultError("SUBSIDY_LOOKUP_KEY is not set: ID numbers and phones cannot be stored or looked up "
                             "without it (see the README, production).")
        return hmac.new(self.lookup_key, f"{field}\x1f{value}".encode(), hashlib.sha256).hexdigest()

    def key_id_of(self, token: str) -> str:
        return token.partition(":")[0]


_cache: tuple[Settings, Vault] | None = None


def vault() -> Vault:
    """The vault of the current settings (rebuilt when tests clear the settings' cache)."""
    global _cache
    settings = get_settings()
    if _cache is None or _cache[0] is not settings:
        _cache = (settings, Vault.from_settings(settings))
    return _cache[1]


def seal(field: str, value: str | None) -> str | None:
    return vault().seal(field, value)


def open_sealed(field: str, token: str | None) -> str | None:
    return vault().open(field, token)


def blind(field: str, value: str | None) -> str:
    return vault().blind(field, value)


def tail(value: str | None) -> str:
    return (value or "")[-TAIL:]


def tail6_blind(field: str, value: str | None) -> str:
    """The lookup hash of the last six characters of `value` ("" for none): what a search by them compares."""
    return vault().blind(f"{field}_tail6", (value or "")[-TAIL6:])


def lookups(**values: str | None) -> dict[str, str]:
    """The hash and tail columns of each sealed field given, for a statement written with Core:
    `lookups(id_number=x, phone=y)` → {"id_number_hmac": …, "id_number_tail": …, "phone_hmac": …, "phone_tail": …}."""
    v = vault()
    out = {}
    for field, value in values.items():
        out[f"{field}_hmac"] = v.blind(field, value)
        out[f"{field}_tail"] = tail(value)
    return out
