"""Rule-based extraction (no LLM): facts with a subject and attribute, and decisions by cue."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

METHOD = "rules-v1"

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[\"'A-Z0-9])|\n+")
_NAME = r"[A-Z][\w'&.-]*(?:\s+(?:of\s+|de\s+|the\s+)?[A-Z][\w'&.-]*)*"
_VALUE = r"[^.!?,;\n]{1,60}?"
_END = r"(?=\s*(?:[.!?,;\n]|\s+(?:and|but|because|since|now|last|this|next|for|with|where)\b|$))"


def sentences(text: str) -> list[str]:
    """The sentences of `text` (a light split on end punctuation and line breaks)."""
    return [s.strip() for s in _SENTENCE.split(text) if s and s.strip()]


@dataclass(frozen=True, slots=True)
class FactMatch:
    """One atomic statement found in a sentence."""

    subject: str
    attribute: str
    value: str
    text: str


@dataclass(frozen=True, slots=True)
class _FactRule:
    pattern: re.Pattern[str]
    attribute: str  # may name a group: "favourite {thing}"
    template: str  # "{subject} lives in {value}"
    first_person: bool = True  # the subject is the speaker


def _rule(pattern: str, attribute: str, template: str, first_person: bool = True) -> _FactRule:
    return _FactRule(re.compile(pattern), attribute, template, first_person)


# Incompatible statements share an attribute: "I moved to Lisbon" supersedes "I live in Berlin".
FACT_RULES: tuple[_FactRule, ...] = (
    _rule(rf"\bI(?:'m| am)? (?:now |currently |still )?(?:live|living|based) in (?P<value>{_NAME})",
          "residence", "{subject} lives in {value}"),
    _rule(rf"\bI(?:'ve| have)? (?:just |recently |finally )?(?:moved|relocated) to"
          rf" (?P<value>{_NAME})",
          "residence", "{subject} lives in {value}"),
    _rule(rf"\bI(?:'m| am) from (?P<value>{_NAME})", "origin", "{subject} is from {value}"),
    _rule(rf"\bI (?:now |currently )?work (?:at|for) (?P<value>{_NAME})",
          "employer", "{subject} works at {value}"),
    _rule(rf"\bI(?:'ve| have)? (?:just )?(?:joined|started (?:working )?at) (?P<value>{_NAME})",
          "employer", "{subject} works at {value}"),
    _rule(rf"\b[Mm]y name is (?P<value>{_NAME})", "name", "{subject} is called {value}"),
    _rule(rf"\b[Mm]y fav(?:ou?rite)? (?P<thing>[a-z]+(?: [a-z]+)?) is (?P<value>{_VALUE}){_END}",
          "favourite {thing}", "{subject}'s favourite {thing} is {value}"),
    _rule(r"\bI(?:'m| am) (?:a|an) (?P<value>[a-z]+(?: [a-z]+)?) (?:by profession|by trade)",
          "occupation", "{subject} is a {value}"),
    _rule(rf"\b(?P<value>{_NAME}) is (?:the )?(?:owner|maintainer|lead) of"
          rf" (?P<subject>{_VALUE}){_END}",
          "owner", "{value} is the owner of {subject}", first_person=False),
    _rule(r"\b[Ww]e(?:'ve| have| are)? (?:now )?(?:use|using|run|running|switched to|migrated to"
          r"|moved to|upgraded to|standardi[sz]ed on) (?P<value>(?P<product>[A-Z][\w.+#-]*)"
          r"(?: \d[\w.]*)?)",
          "uses {product}", "{subject} uses {value}"),
)


def _clean(value: str) -> str:
    return value.strip().strip("\"'").rstrip(".").strip()


def find_facts(text: str, speaker: str | None, team: str) -> Iterator[FactMatch]:
    """Facts stated in `text` by `speaker` ("I ..." is the speaker, "we ..." is `team`)."""
    for sentence in sentences(text):
        for rule in FACT_RULES:
            for match in rule.pattern.finditer(sentence):
                groups = {k: _clean(v) for k, v in match.groupdict().items() if v}
                value = groups.get("value", "")
                if not value:
                    continue
                if rule.first_person:
                    we = rule.template.startswith("{subject} uses")
                    subject = team if we else speaker
                else:
                    subject = groups.get("subject")
                if not subject:
                    continue
                fields = {**groups, "subject": subject, "value": value}
                attribute = rule.attribute.format(**fields).casefold()
                yield FactMatch(subject, attribute, value, rule.template.format(**fields))


DECISION_CUES = re.compile(
    r"\b(?:we(?:'ve| have)? decided|decided to|we(?:'ll| will) go with|let'?s go with|"
    r"(?:we |it's |it is )?agreed(?: to| that| on)?|decision:|we will|we'll|the plan is to|"
    r"going forward,? we)\b",
    re.IGNORECASE,
)


def find_decisions(text: str) -> Iterator[str]:
    """Sentences of `text` that record a decision ("we decided", "let's go with", ...)."""
    for sentence in sentences(text):
        if DECISION_CUES.search(sentence) and len(sentence.split()) >= 4:
            yield sentence


def entities(text: str) -> list[str]:
    """Capitalised names in `text` that are not just a sentence's first word."""
    found: list[str] = []
    for sentence in sentences(text):
        for match in re.finditer(_NAME, sentence):
            name = match.group(0).strip(".")
            if match.start() == 0 and " " not in name:
                continue
            if name not in found and name not in {"I", "I'm", "I've", "I'll"}:
                found.append(name)
    return found[:12]
