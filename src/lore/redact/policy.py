"""Redaction policies: the built-in TOML file, user files merged over it, validated and compiled."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import ConfigError

BUILTIN = "built-in"
PERSONAL_DETECTORS = ("email", "phone", "card", "iban", "ssn", "nino", "ip", "address")
SECRET_DETECTORS = (
    "known_keys", "jwt", "private_key", "url_password", "assignments", "bearer", "entropy"
)
TOPIC_ACTIONS = ("mask", "drop")
TOPIC_SCOPES = ("record", "paragraph")

_STR_LIST = "list of strings"
# Key -> expected type; a nested dict is a table; "*" matches any key of a table.
_SCHEMA: dict[str, Any] = {
    "version": int,
    "inherit": bool,
    "placeholders": {"format": str},
    "fields": {"metadata": bool, "actor": bool, "keep_metadata": _STR_LIST},
    "personal": {
        "detectors": _STR_LIST, "ip_ignore": _STR_LIST, "phone_cues": _STR_LIST,
        "phone_stop_words": _STR_LIST,
    },
    "secrets": {
        "detectors": _STR_LIST, "allow": _STR_LIST, "cue_words": _STR_LIST,
        "public_prefixes": _STR_LIST,
        "entropy_min_length": int, "entropy_min_length_cued": int, "entropy_ratio": float,
        "patterns": [{"name": str, "kind": str, "pattern": str, "group": int}],
    },
    "topics": {
        "action": str, "scope": str, "placeholder": str,
        "rules": {"*": {
            "label": str, "cues": _STR_LIST, "weak_cues": _STR_LIST, "min_weak": int,
            "enabled": bool, "action": str,
        }},
    },
}


@dataclass(frozen=True, slots=True)
class KeyPattern:
    """A known secret format: its name, the kind it is stored as, and which group is secret."""

    name: str
    kind: str
    regex: re.Pattern[str]
    group: int = 0


@dataclass(frozen=True, slots=True)
class TopicRule:
    """Cue phrases that mark a record as a sensitive topic (e.g. hr/compensation)."""

    name: str
    label: str
    cues: tuple[str, ...]
    weak_cues: tuple[str, ...]
    min_weak: int
    action: str


@dataclass(frozen=True, slots=True)
class Policy:
    """A validated, compiled redaction policy; `source` is the file it came from."""

    source: str
    placeholder: str
    redact_metadata: bool
    redact_actor: bool
    keep_metadata: frozenset[str]
    personal: tuple[str, ...]
    ip_ignore: frozenset[str]
    phone_cues: tuple[str, ...]
    phone_stop_words: tuple[str, ...]
    secrets: tuple[str, ...]
    allow: frozenset[str]
    public_prefixes: tuple[str, ...]
    cue_words: tuple[str, ...]
    entropy_min_length: int
    entropy_min_length_cued: int
    entropy_ratio: float
    patterns: tuple[KeyPattern, ...]
    topic_action: str
    topic_scope: str
    topic_placeholder: str
    topics: tuple[TopicRule, ...]

    @property
    def detectors(self) -> tuple[str, ...]:
        return self.secrets + self.personal


def _fail(source: str, key: str, problem: str, hint: str = "") -> ConfigError:
    where = f"{source}: " if source else ""
    return ConfigError(f"redaction policy {where}key '{key}': {problem}", hint=hint)


def _check(value: Any, schema: Any, key: str, source: str) -> None:
    """Raise a ConfigError naming `source` and the dotted `key` when `value` breaks `schema`."""
    if isinstance(schema, dict):
        if not isinstance(value, dict):
            raise _fail(source, key, f"expected a table, got {type(value).__name__}")
        for name, item in value.items():
            sub = schema.get(name, schema.get("*"))
            path = f"{key}.{name}" if key else name
            if sub is None:
                known = ", ".join(k for k in schema if k != "*")
                raise _fail(source, path, "unknown key", hint=f"known keys here: {known}")
            _check(item, sub, path, source)
    elif isinstance(schema, list):
        if not isinstance(value, list):
            raise _fail(source, key, f"expected an array of tables, got {type(value).__name__}")
        for index, item in enumerate(value):
            _check(item, schema[0], f"{key}[{index}]", source)
    elif schema == _STR_LIST:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise _fail(source, key, f"expected a list of strings, got {value!r}")
    elif schema is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _fail(source, key, f"expected a number, got {value!r}")
    elif schema is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _fail(source, key, f"expected an integer, got {value!r}")
    elif not isinstance(value, schema):
        raise _fail(source, key, f"expected {schema.__name__}, got {value!r}")


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Tables merge key by key; any other value in `over` replaces the one in `base`."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"no redaction policy file at {path}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read redaction policy {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"redaction policy {path} is not valid TOML: {exc}") from None


def builtin_data() -> dict[str, Any]:
    """The built-in policy file, parsed."""
    text = resources.files("lore.redact").joinpath("default.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


@lru_cache(maxsize=1)
def builtin_policy() -> Policy:
    """The built-in policy, compiled once."""
    return compile_policy(builtin_data(), BUILTIN)


def load_policy(path: str | Path | None = None) -> Policy:
    """The built-in policy, or the TOML file at `path` merged over it (unless `inherit = false`)."""
    if path is None:
        return builtin_policy()
    base = builtin_data()
    file = Path(path)
    data = _read(file)
    _check(data, _SCHEMA, "", str(file))
    merged = _merge(base, data) if data.get("inherit", True) else data
    return compile_policy(merged, str(file))


def _regex(source: str, key: str, pattern: str, flags: int = 0) -> re.Pattern[str]:
    try:
        return re.compile(pattern, flags)
    except re.error as exc:
        raise _fail(source, key, f"invalid regular expression {pattern!r}: {exc}") from None


def _cues(source: str, key: str, cues: list[str]) -> tuple[str, ...]:
    """The cue patterns, each checked to compile on its own and without named groups."""
    for index, cue in enumerate(cues):
        if _regex(source, f"{key}[{index}]", cue).groupindex:
            raise _fail(source, f"{key}[{index}]", f"{cue!r}: named groups are not allowed")
    return tuple(cues)


def _choice(source: str, key: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise _fail(source, key, f"{value!r} is not one of {', '.join(allowed)}")
    return value


def _subset(source: str, key: str, values: list[str], allowed: tuple[str, ...]) -> tuple[str, ...]:
    for value in values:
        _choice(source, key, value, allowed)
    return tuple(values)


def compile_policy(data: dict[str, Any], source: str = BUILTIN) -> Policy:
    """A Policy from parsed TOML (already merged); every problem names `source` and the key."""
    _check(data, _SCHEMA, "", source)
    required = ("placeholders", "fields", "personal", "secrets", "topics")
    for name in required:
        if name not in data:
            raise _fail(source, name, "missing table (with inherit = false, give every table)")
    fmt = data["placeholders"].get("format", "[{KIND}_{n}]")
    if "{n}" not in fmt:
        raise _fail(source, "placeholders.format", f"{fmt!r} must contain {{n}}")
    try:
        fmt.format(KIND="X", kind="x", n=1)
    except (KeyError, IndexError, ValueError) as exc:
        raise _fail(source, "placeholders.format", f"bad format {fmt!r}: {exc}") from None
    personal, secrets, topics = data["personal"], data["secrets"], data["topics"]
    patterns = []
    for index, item in enumerate(secrets.get("patterns", [])):
        key = f"secrets.patterns[{index}]"
        for field in ("name", "kind", "pattern"):
            if field not in item:
                raise _fail(source, f"{key}.{field}", "missing")
        regex = _regex(source, f"{key}.pattern", item["pattern"])
        group = item.get("group", 0)
        if not 0 <= group <= regex.groups:
            raise _fail(source, f"{key}.group", f"{group} but the pattern has {regex.groups}")
        patterns.append(KeyPattern(item["name"], item["kind"], regex, group))
    default_action = _choice(source, "topics.action", topics.get("action", "mask"), TOPIC_ACTIONS)
    rules = []
    for name, rule in topics.get("rules", {}).items():
        key = f"topics.rules.{name}"
        if not rule.get("enabled", True):
            continue
        action = _choice(source, f"{key}.action", rule.get("action", default_action), TOPIC_ACTIONS)
        min_weak = rule.get("min_weak", 2)
        if min_weak < 1:
            raise _fail(source, f"{key}.min_weak", f"must be at least 1, got {min_weak}")
        rules.append(TopicRule(
            name, rule.get("label", name), _cues(source, f"{key}.cues", rule.get("cues", [])),
            _cues(source, f"{key}.weak_cues", rule.get("weak_cues", [])), min_weak, action,
        ))
    ratio = float(secrets.get("entropy_ratio", 0.85))
    if not 0 < ratio <= 1:
        raise _fail(source, "secrets.entropy_ratio", f"must be in (0, 1], got {ratio}")
    placeholder = topics.get("placeholder", "[REDACTED: {topic}]")
    if "{topic}" not in placeholder:
        raise _fail(source, "topics.placeholder", f"{placeholder!r} must contain {{topic}}")
    return Policy(
        source=source,
        placeholder=fmt,
        redact_metadata=data["fields"].get("metadata", True),
        redact_actor=data["fields"].get("actor", True),
        keep_metadata=frozenset(data["fields"].get("keep_metadata", [])),
        personal=_subset(
            source, "personal.detectors", personal.get("detectors", []), PERSONAL_DETECTORS
        ),
        ip_ignore=frozenset(personal.get("ip_ignore", [])),
        phone_cues=tuple(personal.get("phone_cues", [])),
        phone_stop_words=tuple(personal.get("phone_stop_words", [])),
        secrets=_subset(
            source, "secrets.detectors", secrets.get("detectors", []), SECRET_DETECTORS
        ),
        allow=frozenset(secrets.get("allow", [])),
        public_prefixes=tuple(secrets.get("public_prefixes", [])),
        cue_words=tuple(secrets.get("cue_words", [])),
        entropy_min_length=secrets.get("entropy_min_length", 32),
        entropy_min_length_cued=secrets.get("entropy_min_length_cued", 20),
        entropy_ratio=ratio,
        patterns=tuple(patterns),
        topic_action=default_action,
        topic_scope=_choice(source, "topics.scope", topics.get("scope", "record"), TOPIC_SCOPES),
        topic_placeholder=placeholder,
        topics=tuple(rules),
    )
