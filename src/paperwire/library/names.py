"""Author names as papers carry them (``"Ashish Vaswani"``, ``"Ludwig van Beethoven"``,
``"Smith, John"``, ``"ATLAS Collaboration"``) split into their parts — pure."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# lower-case words that begin a family name ("van Beethoven", "de la Cruz")
PARTICLES = frozenset({
    "van", "von", "der", "den", "de", "del", "della", "degli", "di", "da", "das", "do", "dos",
    "du", "la", "le", "les", "ter", "ten", "te", "zu", "zur", "af", "av", "bin", "ibn", "al",
    "el", "y",
})
SUFFIXES = frozenset({"jr", "jr.", "sr", "sr.", "ii", "iii", "iv"})
# a name that is a group, not a person: kept whole, never split into given/family
_COLLECTIVE = re.compile(
    r"\b(collaboration|consortium|team|group|project|committee|initiative|institute|"
    r"university|laboratory|labs?|inc|ltd|llc|corporation|company|foundation|society|"
    r"association|organi[sz]ation|network|alliance|community|authors|contributors)\b",
    re.IGNORECASE)


@dataclass(frozen=True)
class Name:
    """One author. A person has ``family`` (and usually ``given``; ``particle`` is a
    lower-case prefix of the family name, ``suffix`` a "Jr."); a group has only ``literal``."""

    family: str = ""
    given: str = ""
    particle: str = ""
    suffix: str = ""
    literal: str = ""

    @property
    def is_group(self) -> bool:
        return bool(self.literal)


def is_group(name: str) -> bool:
    """Whether ``name`` names a group (a collaboration, a team, a company), not a person."""
    return _COLLECTIVE.search(name) is not None


def _family_with_particle(words: list[str]) -> tuple[str, str]:
    """``(particle, family)`` from the family part's words: leading lower-case particles."""
    i = 0
    while i < len(words) - 1 and words[i].lower() == words[i] and words[i] in PARTICLES:
        i += 1
    return " ".join(words[:i]), " ".join(words[i:])


def split_name(raw: str) -> Name:
    """``raw`` split into its parts. "Given Family" (particles and a suffix recognised),
    "Family, Given" and "Family, Suffix, Given" are understood; a group stays whole."""
    text = " ".join(raw.split())
    if not text:
        return Name()
    if is_group(text):
        return Name(literal=text)
    if "," in text:
        parts = [p.strip() for p in text.split(",")]
        if len(parts) == 2 and parts[1].lower() in SUFFIXES:  # "John Smith, Jr."
            inner = split_name(parts[0])
            if inner.family:
                return Name(inner.family, inner.given, inner.particle, parts[1])
        if len(parts) in (2, 3) and all(parts):
            particle, family = _family_with_particle(parts[0].split())
            suffix = parts[1] if len(parts) == 3 else ""
            return Name(family, parts[-1], particle, suffix)
        return Name(literal=text)
    words = text.split()
    suffix = ""
    if len(words) > 2 and words[-1].lower() in SUFFIXES:
        suffix = words.pop()
    if len(words) == 1:
        return Name(family=words[0], suffix=suffix)
    # the family name starts at the first particle (after the first word), else is the last word
    start = len(words) - 1
    for i in range(1, len(words) - 1):
        if words[i] in PARTICLES:
            start = i
            break
    particle, family = _family_with_particle(words[start:])
    return Name(family, " ".join(words[:start]), particle, suffix)


def ascii_fold(text: str) -> str:
    """``text`` lower-cased, accents dropped, only ``a-z0-9`` kept: ``"Müller"`` →
    ``"muller"``, ``"Øster-Dahl"`` → ``"osterdahl"``; letters with no ASCII form vanish."""
    text = text.replace("ø", "o").replace("Ø", "O").replace("ß", "ss").replace("æ", "ae")
    text = text.replace("Æ", "AE").replace("ł", "l").replace("Ł", "L").replace("đ", "d")
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed.lower() if "a" <= ch <= "z" or "0" <= ch <= "9")
