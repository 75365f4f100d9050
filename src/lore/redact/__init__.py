"""Redaction before storage: a TOML policy, detectors, topic rules, stable placeholders, audit."""

from __future__ import annotations

from .base import Detector, register
from .credentials import shannon_entropy
from .personal import iban_ok, luhn_ok
from .placeholders import MemoryNumbering, StoreNumbering
from .policy import BUILTIN, Policy, load_policy
from .redactor import Finding, Redacted, Redactor, mask

__all__ = [
    "BUILTIN",
    "Detector",
    "Finding",
    "MemoryNumbering",
    "Policy",
    "Redacted",
    "Redactor",
    "StoreNumbering",
    "iban_ok",
    "load_policy",
    "luhn_ok",
    "mask",
    "register",
    "shannon_entropy",
]
