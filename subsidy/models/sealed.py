"""The three columns of a sealed value (subsidy/core/vault.py): the ORM attribute `<field>` is the plaintext, stored
encrypted in `<field>_sealed`; `<field>_hmac` and `<field>_tail` follow it, computed on every write, whichever way
the row is written:

- an object (`Household(id_number=…)`, `household.phone = …`): an attribute event sets both at once;
- a Core INSERT that leaves them out (`insert(household_table)` with plain dicts): their column defaults compute
  them from the row's plaintext parameter;
- a Core statement that spells every column (the sale's hand-written INSERT): `vault.lookups(...)` gives them.

A household's ID number has a fourth, `id_number_tail6_hmac` (`tail6_hmac_of`, kept the same two ways: the event of
`keep_lookups(..., tail6=...)` and a column default): the lookup hash of its last six characters.

Comparing the sealed column itself is refused with a TypeError: its ciphertext differs at every write, so
`Household.id_number == x` would silently match nothing. Compare `<field>_hmac` with `vault.blind(field, x)`, or
`<field>_tail`.
"""

from __future__ import annotations

from sqlalchemy import Column, String, event
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field

from subsidy.core import vault

SEALED_LENGTH = 160  # key id (≤ 32) + ":" + base64 of nonce, up to 20 bytes of value and tag (64)
HMAC_LENGTH = 64


class Sealed(TypeDecorator):
    """A string encrypted on the way in and decrypted on the way out, with `field` as its associated data."""

    impl = String(SEALED_LENGTH)
    cache_ok = True

    def __init__(self, field: str) -> None:
        super().__init__()
        self.field = field

    def process_bind_param(self, value, dialect):
        return vault.seal(self.field, value)

    def process_result_value(self, value, dialect):
        return vault.open_sealed(self.field, value)

    class comparator_factory(TypeDecorator.Comparator):
        def operate(self, op, *other, **kwargs):
            raise TypeError(f"a sealed column cannot be compared ({op.__name__}): compare its _hmac column with "
                            "vault.blind(...) or its _tail column (subsidy/models/sealed.py)")

        def reverse_operate(self, op, other, **kwargs):
            return self.operate(op, other)


def from_parameter(field: str, derive):
    """A column default computed from the row's own `field` parameter (a Core INSERT that leaves the column out)."""
    def default(context):
        return derive(context.get_current_parameters().get(field))
    return default


def sealed(field: str, *, default: str | None = None):
    """The plaintext attribute `field`, stored sealed in the column `<field>_sealed`."""
    extra = {} if default is None else {"default": default}
    return Field(sa_column=Column(f"{field}_sealed", Sealed(field), key=field, nullable=False, **extra), **extra)


def hmac_of(field: str, *, unique: bool = False, index: bool = False):
    derive = from_parameter(field, lambda value: vault.blind(field, value))
    return Field(default=None, sa_column=Column(f"{field}_hmac", String(HMAC_LENGTH), nullable=False, unique=unique,
                                                index=index, default=derive))


def tail_of(field: str, *, index: bool = False):
    return Field(default=None, sa_column=Column(f"{field}_tail", String(vault.TAIL), nullable=False, index=index,
                                                default=from_parameter(field, vault.tail)))


def tail6_hmac_of(field: str, *, index: bool = False):
    derive = from_parameter(field, lambda value: vault.tail6_blind(field, value))
    return Field(default=None, sa_column=Column(f"{field}_tail6_hmac", String(HMAC_LENGTH), nullable=False,
                                                index=index, default=derive))


def keep_lookups(cls, *fields: str, tail6: tuple[str, ...] = ()) -> None:
    """Set `<field>_hmac` and `<field>_tail` whenever `<field>` is set on an object of `cls`, and
    `<field>_tail6_hmac` for the fields named in `tail6`."""
    for field in fields:
        def on_set(target, value, _old, _initiator, field=field):
            setattr(target, f"{field}_hmac", vault.blind(field, value))
            setattr(target, f"{field}_tail", vault.tail(value))
            if field in tail6:
                setattr(target, f"{field}_tail6_hmac", vault.tail6_blind(field, value))
        event.listen(getattr(cls, field), "set", on_set)
