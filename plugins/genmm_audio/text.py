"""The text front end of the text-to-speech model: normalisation, phonemes, the vocabulary.

* :func:`normalise_text` spells out what espeak-ng would otherwise read its own way or not at
  all, as the front ends of Tacotron (Wang et al. 2017) and FastSpeech 2 (Ren et al. 2021)
  do before their grapheme-to-phoneme step: currency (``$3.50`` -> "three dollars fifty
  cents", ``£5``, ``€``), ordinals (``1st``, ``22nd``, ``103rd``), decimals (``3.14`` -> "three
  point one four"), thousands separators, years (``1999`` -> "nineteen ninety-nine"),
  percentages, ``&``, and common abbreviations (``Mr.``, ``Mrs.``, ``Dr.``, ``St.``, ``etc.``,
  ``e.g.``, ...). Accents are folded (``café`` -> ``cafe``); the clause punctuation
  ``, ; : . ! ?``, quotes and brackets are kept (espeak-ng turns them into the pause phoneme
  ``_:``, as in the corpus it rendered); typographic quotes become ASCII ones; any other
  character is refused, by its Unicode name.
* :func:`phonemise` reads the normalised text with espeak-ng (the ``espeakng-loader`` library
  that renders the corpus, :meth:`genmm_audio.corpus.Espeak.phonemes`), so a sentence typed at
  ``genmm generate`` becomes the same phoneme names the corpus's ``.phonemes.tsv`` hold.
* :class:`PhonemeVocabulary`: ``<pad>`` (0), ``<unk>`` (1), then the corpus's phonemes sorted.
  It is plain data in the dataset's description, so ``genmm generate`` rebuilds it without the
  data.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from typing import Any

from genmm.errors import DataError

log = logging.getLogger(__name__)

PAD, UNKNOWN = "<pad>", "<unk>"
#: espeak-ng's pause phoneme (a clause's end: , ; : . ! ?) and its clause boundary marker
PAUSE, BOUNDARY = "_:", "_"

ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
).split()
TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
SCALES = [(10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand")]
ORDINAL_WORDS = {
    "one": "first",
    "two": "second",
    "three": "third",
    "five": "fifth",
    "eight": "eighth",
    "nine": "ninth",
    "twelve": "twelfth",
}
ABBREVIATIONS = {
    "mr": "mister",
    "mrs": "missus",
    "ms": "miz",
    "dr": "doctor",
    "prof": "professor",
    "jr": "junior",
    "sr": "senior",
    "mt": "mount",
    "vs": "versus",
    "approx": "approximately",
    "dept": "department",
    "no": "number",
}
CURRENCIES = {"$": ("dollar", "cent"), "£": ("pound", "penny"), "€": ("euro", "cent")}
#: what survives normalisation: letters, the apostrophe, spaces, hyphens and clause punctuation
KEPT = re.compile(r"[A-Za-z' \-,;:.!?\"()]")
DROPPED = set("*_~`^|/\\<>")
#: typographic quotes and brackets as the ASCII ones espeak-ng pauses at, as the corpus has them
PUNCTUATION = str.maketrans(
    {"“": '"', "”": '"', "«": '"', "»": '"', "‘": "'", "’": "'", "[": "(", "]": ")"}
)


# ----------------------------------------------------------------------------- numbers


def number_words(number: int) -> str:
    """``1234`` -> "one thousand two hundred thirty-four" (negative numbers: "minus ...")."""
    if number < 0:
        return "minus " + number_words(-number)
    if number < 20:
        return ONES[number]
    if number < 100:
        tens, ones = divmod(number, 10)
        return TENS[tens] + (f"-{ONES[ones]}" if ones else "")
    if number < 1000:
        hundreds, rest = divmod(number, 100)
        return f"{ONES[hundreds]} hundred" + (f" {number_words(rest)}" if rest else "")
    for scale, name in SCALES:
        if number >= scale:
            head, rest = divmod(number, scale)
            return f"{number_words(head)} {name}" + (f" {number_words(rest)}" if rest else "")
    raise AssertionError(number)  # unreachable


def ordinal_words(number: int) -> str:
    """``21`` -> "twenty-first", ``100`` -> "one hundredth"."""
    words = number_words(number)
    cut = max(words.rfind(" "), words.rfind("-"))  # the last word is the one that changes
    head, last = words[: cut + 1], words[cut + 1 :]
    if last in ORDINAL_WORDS:
        last = ORDINAL_WORDS[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return head + last


def year_words(year: int) -> str:
    """``1999`` -> "nineteen ninety-nine", ``1900`` -> "nineteen hundred", ``2015`` -> "twenty
    fifteen" (years 1100-1999 and 2010-2099; others as cardinals)."""
    if not (1100 <= year <= 1999 or 2010 <= year <= 2099):
        return number_words(year)
    high, low = divmod(year, 100)
    if low == 0:
        return f"{number_words(high)} hundred"
    return f"{number_words(high)} " + (f"oh {ONES[low]}" if low < 10 else number_words(low))


def decimal_words(text: str) -> str:
    """``"3.14"`` -> "three point one four"."""
    whole, _, fraction = text.partition(".")
    spoken = number_words(int(whole or "0"))
    return spoken + (" point " + " ".join(ONES[int(d)] for d in fraction) if fraction else "")


#: scale words after an amount of money, and their abbreviations
MONEY_SCALES = {"million": "million", "billion": "billion", "trillion": "trillion", "m": "million"}
MONEY_SCALES |= {"bn": "billion", "tn": "trillion"}


def money_words(symbol: str, amount: str) -> str:
    """``("$", "3.50")`` -> "three dollars fifty cents"; ``("£", "1")`` -> "one pound"."""
    unit, small = CURRENCIES[symbol]
    whole, _, fraction = amount.partition(".")
    whole_value = int(whole or "0")
    cents = int((fraction + "00")[:2]) if fraction else 0
    parts = []
    if whole_value or not cents:
        parts.append(f"{number_words(whole_value)} {unit}{'' if whole_value == 1 else 's'}")
    if cents:
        plural = {"penny": "pence"}.get(small, small + "s")
        parts.append(f"{number_words(cents)} {small if cents == 1 else plural}")
    return " ".join(parts)


def _cardinal(match: re.Match[str]) -> str:
    digits = match.group(0).replace(",", "")
    if "." in digits:
        return decimal_words(digits)
    value = int(digits)
    if len(digits) == 4 and "," not in match.group(0):
        return year_words(value)
    return number_words(value)


# ----------------------------------------------------------------------------- normalisation


def _abbreviation(match: re.Match[str]) -> str:
    word = match.group(1)
    lower = word.lower()
    if lower == "st":  # "St. Paul" is a saint, "Baker St." a street
        following = match.string[match.end() :].lstrip()
        return "saint" if following[:1].isupper() else "street"
    if lower == "no" and not re.match(r"\s*\d", match.string[match.end() :]):
        return match.group(0)  # "No." before a number is "number"; otherwise the word "no"
    return ABBREVIATIONS[lower]


def normalise_text(text: str) -> str:
    """Written text -> words espeak-ng reads as a person would (see the module docstring).

    Raises :class:`DataError` naming every character it cannot read aloud."""
    text = unicodedata.normalize("NFKC", str(text))
    text = re.sub(r"\be\.g\.", "for example", text, flags=re.IGNORECASE)
    text = re.sub(r"\bi\.e\.", "that is", text, flags=re.IGNORECASE)
    text = re.sub(r"\betc\.", "et cetera.", text, flags=re.IGNORECASE)
    names = "|".join(["st", *ABBREVIATIONS])
    text = re.sub(rf"\b({names})\.", _abbreviation, text, flags=re.IGNORECASE)
    text = re.sub(  # "$10 million" is ten million dollars, "$1.5bn" one point five billion
        r"([$£€])\s?(\d[\d,]*(?:\.\d+)?)\s?(million|billion|trillion|m|bn|tn)\b",
        lambda m: (
            f"{decimal_words(m.group(2).replace(',', ''))} {MONEY_SCALES[m.group(3).lower()]} "
            f"{CURRENCIES[m.group(1)][0]}s"
        ),
        text,
        flags=re.IGNORECASE,
    )
    text = re.sub(
        r"([$£€])\s?(\d[\d,]*(?:\.\d+)?)",
        lambda m: money_words(m.group(1), m.group(2).replace(",", "")),
        text,
    )
    text = re.sub(r"(\d+(?:\.\d+)?)\s?%", lambda m: f"{m.group(1)} percent", text)
    text = re.sub(
        r"\b(\d[\d,]*)(st|nd|rd|th)\b",
        lambda m: ordinal_words(int(m.group(1).replace(",", ""))),
        text,
        flags=re.IGNORECASE,
    )
    text = re.sub(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?", _cardinal, text)
    text = text.replace("&", " and ").replace("+", " plus ").replace("@", " at ")
    text = re.sub(r"[\u2013\u2014]", ", ", text)  # dashes between clauses are pauses
    text = "".join(  # fold accents: café -> cafe
        c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)
    )
    text = text.translate(PUNCTUATION)
    text = "".join(" " if c in DROPPED or c.isspace() else c for c in text)
    unknown = sorted({c for c in text if not KEPT.fullmatch(c)})
    if unknown:
        named = ", ".join(f"'{c}' ({unicodedata.name(c, f'U+{ord(c):04X}')})" for c in unknown)
        raise DataError(f"the text has characters genmm cannot read aloud: {named}")
    text = re.sub(r"\s+([,;:.!?])", r"\1", text)
    return re.sub(r"\s+", " ", text).strip()


def pronounceable(text: str) -> bool:
    """Whether normalised ``text`` holds a letter to say."""
    return any(c.isalpha() for c in text)


def phonemise(text: str, voice: str = "en-us") -> list[str]:
    """``text`` (normalised here) -> espeak-ng phoneme names read by ``voice``.

    Raises :class:`DataError` for empty text, for text with nothing to pronounce and for
    characters it cannot read (named)."""
    if not str(text).strip():
        raise DataError("the text is empty: give a sentence to say (--text 'Good morning.')")
    normalised = normalise_text(text)
    if not pronounceable(normalised):
        raise DataError(f"the text {str(text)!r} has nothing to pronounce (no letters or digits)")
    from genmm_audio.corpus import Espeak

    return Espeak.get().phonemes(normalised, voice)


# ----------------------------------------------------------------------------- vocabulary


class PhonemeVocabulary:
    """Phoneme names <-> ids: ``<pad>`` = 0, ``<unk>`` = 1, then the phonemes, sorted."""

    def __init__(self, tokens: list[str]) -> None:
        if tokens[:2] != [PAD, UNKNOWN]:
            raise ValueError(f"a phoneme vocabulary starts with {PAD}, {UNKNOWN}")
        self.tokens = list(tokens)
        self.index = {token: i for i, token in enumerate(self.tokens)}

    @classmethod
    def build(cls, sequences: list[list[str]]) -> PhonemeVocabulary:
        names = sorted({name for sequence in sequences for name in sequence} - {PAD, UNKNOWN})
        return cls([PAD, UNKNOWN, *names])

    @classmethod
    def from_description(cls, description: dict[str, Any] | None) -> PhonemeVocabulary:
        tokens = (description or {}).get("phonemes")
        if not tokens:
            raise ValueError(
                "needs the data description's 'phonemes' (an audio.tts_corpus dataset)"
            )
        return cls(list(tokens))

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, names: list[str], warn: bool = False) -> list[int]:
        """Ids of ``names``; a name the corpus never had is ``<unk>`` (named in one warning
        when ``warn``)."""
        unknown = sorted({name for name in names if name not in self.index})
        if unknown and warn:
            log.warning("phonemes the training corpus never had, read as %s: %s", UNKNOWN, unknown)
        return [self.index.get(name, 1) for name in names]

    def decode(self, ids: list[int]) -> list[str]:
        return [self.tokens[i] for i in ids]
