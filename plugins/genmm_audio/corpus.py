"""The built-in speech corpus: sentences rendered with espeak-ng into an LJSpeech-layout folder.

``render_corpus(root, n, voices, seed)`` writes::

    root/wavs/<id>.wav                22,050 Hz mono 16-bit
    root/wavs/<id>.phonemes.tsv       "<start sample>\\t<phoneme>" per espeak-ng PHONEME event
    root/metadata.csv                 <id>|<text>|<normalised text>
    root/corpus.json                  what was rendered (seed, voices, count)

espeak-ng comes from the ``espeakng-loader`` package (its bundled ``libespeak-ng.so`` and data,
driven through ctypes: no system install). Sentences come from the gensim Lee news corpus when
gensim is installed (read in place), otherwise from :func:`generated_sentences`. Sentences,
voices, rates and pitches are deterministic from ``seed``, and so is an uninterrupted render.
Rendering skips files that already exist (resumable: an utterance rendered after an interruption
has the same text, phonemes and length within a frame; espeak-ng carries its oscillator and
noise state from one call to the next, so its samples differ slightly) and does nothing when the
manifest matches and every file is there (idempotent).
"""

from __future__ import annotations

import ctypes
import importlib.util
import json
import logging
import os
import random
import re
from pathlib import Path

import numpy as np
import soundfile

from genmm.errors import DataError

log = logging.getLogger(__name__)

VOICES = ["en-us", "en-us+f3", "en-us+m3", "en-us+f2"]
#: language names people use that espeak-ng's voice files spell otherwise (``en-gb`` is ``en``)
ESPEAK_ALIASES = {"en-gb": "en"}
PHONEME_EVENT, LIST_TERMINATED = 7, 0
SYNCHRONOUS, PHONEME_EVENTS, POS_CHARACTER = 2, 1, 1
RATE, PITCH = 1, 3


# ----------------------------------------------------------------------------- sentences


def lee_corpus_path() -> Path | None:
    """gensim's bundled Lee news corpus, located without importing gensim."""
    spec = importlib.util.find_spec("gensim")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "test" / "test_data" / "lee_background.cor"
    return path if path.exists() else None


def news_sentences(min_words: int = 5, max_words: int = 18) -> list[str]:
    """Sentences of the Lee corpus (300 ABC news articles) of ``min_words``-``max_words``."""
    path = lee_corpus_path()
    if path is None:
        return []
    text = path.read_text(encoding="utf-8", errors="replace")
    sentences = []
    for line in text.splitlines():
        for sentence in re.split(r"(?<=[.!?])\s+", line.strip()):
            sentence = sentence.strip()
            words = sentence.split()
            if min_words <= len(words) <= max_words and sentence[-1:] in ".!?":
                sentences.append(sentence)
    return sentences


SUBJECTS = [
    "The old farmer",
    "A young teacher",
    "The city council",
    "My neighbour",
    "The small boat",
    "A tired doctor",
    "The quiet student",
    "Our new manager",
    "The brown dog",
    "A local artist",
    "The early train",
    "Every visitor",
]
VERBS = [
    "carried",
    "painted",
    "found",
    "watched",
    "repaired",
    "described",
    "followed",
    "measured",
    "opened",
    "visited",
    "counted",
    "remembered",
]
OBJECTS = [
    "a heavy wooden box",
    "the bright morning sky",
    "seven green apples",
    "the long river bank",
    "an empty glass jar",
    "the northern coast",
    "a handful of letters",
    "the broken garden gate",
    "twelve silver coins",
    "the narrow mountain road",
    "a yellow paper kite",
    "the noisy market square",
]
ENDINGS = [
    "before the storm arrived.",
    "after a long day.",
    "without saying a word.",
    "near the old station.",
    "in the middle of winter.",
    "with great care.",
    "on Sunday afternoon.",
    "for the second time.",
    "under the city lights.",
    "while the children sang.",
]


def generated_sentences(n: int, seed: int = 0) -> list[str]:
    """``n`` grammatical sentences from a small template grammar, deterministic from ``seed``."""
    rng = random.Random(seed)
    return [
        f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} {rng.choice(ENDINGS)}"
        for _ in range(n)
    ]


def pick_sentences(n: int, seed: int = 0, source: str = "auto") -> list[str]:
    """``n`` sentences: from the news corpus (``auto`` when installed, or ``news``) or the
    generator (``generated``)."""
    if source not in ("auto", "news", "generated"):
        raise ValueError("sentence source must be 'auto', 'news' or 'generated'")
    pool = news_sentences() if source in ("auto", "news") else []
    if source == "news" and not pool:
        raise DataError("the news corpus needs gensim (pip install 'genmm[data]')")
    if not pool:
        return generated_sentences(n, seed)
    rng = random.Random(seed)
    rng.shuffle(pool)
    while len(pool) < n:  # more sentences than the corpus holds: top up from the generator
        pool += generated_sentences(n - len(pool), seed + 1)
    return pool[:n]


def normalise(text: str) -> str:
    """Lower case, digits spelled as espeak-ng reads them is out of scope: keep words only."""
    return re.sub(r"\s+", " ", re.sub(r"[^a-z0-9' ,.?!-]", " ", text.lower())).strip()


# ----------------------------------------------------------------------------- espeak-ng


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", ctypes.c_char * 8),  # union {int number; const char *name; char string[8]}
    ]


_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event)
)


class Espeak:
    """espeak-ng through ctypes, synchronous, with phoneme events (one per process)."""

    _instance: Espeak | None = None

    def __init__(self) -> None:
        try:
            import espeakng_loader
        except ImportError:
            raise DataError(
                "the built-in speech corpus is rendered with espeak-ng from the "
                "'espeakng-loader' package: pip install 'genmm[speech]'"
            )
        self.lib = ctypes.CDLL(espeakng_loader.get_library_path())
        self.lib.espeak_Initialize.restype = ctypes.c_int
        data = espeakng_loader.get_data_path().encode()
        self.sample_rate = self.lib.espeak_Initialize(SYNCHRONOUS, 0, data, PHONEME_EVENTS)
        if self.sample_rate <= 0:
            raise DataError(f"espeak-ng failed to initialise with data at {data.decode()}")
        self._chunks: list[np.ndarray] = []
        self._phonemes: list[tuple[int, str]] = []
        self._callback = _CALLBACK(self._receive)  # keep a reference: ctypes does not
        self.lib.espeak_SetSynthCallback(self._callback)

    @classmethod
    def get(cls) -> Espeak:
        if cls._instance is None:
            cls._instance = cls()
        return cls._instance

    def _receive(self, wav, count, events) -> int:
        if count > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(count,)).copy())
        index = 0
        while events[index].type != LIST_TERMINATED:
            event = events[index]
            if event.type == PHONEME_EVENT:
                self._phonemes.append((int(event.sample), event.id.decode("ascii", "replace")))
            index += 1
        return 0

    def synthesize(
        self, text: str, voice: str = "en-us", rate: int = 175, pitch: int = 50
    ) -> tuple[np.ndarray, list[tuple[int, str]]]:
        """``text`` -> (int16 samples at ``sample_rate``, [(start sample, phoneme), ...])."""
        if self.lib.espeak_SetVoiceByName(espeak_voice_name(voice).encode()) != 0:
            raise DataError(
                f"espeak-ng has no voice '{voice}' (try en-us, en-gb, en-us+f3, en-us+m3)"
            )
        self.lib.espeak_SetParameter(RATE, rate, 0)
        self.lib.espeak_SetParameter(PITCH, pitch, 0)
        self._chunks, self._phonemes = [], []
        encoded = text.encode("utf-8")
        self.lib.espeak_Synth(encoded, len(encoded) + 1, 0, POS_CHARACTER, 0, 0, None, None)
        self.lib.espeak_Synchronize()
        audio = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)
        return audio, list(self._phonemes)

    def phonemes(self, text: str, voice: str = "en-us") -> list[str]:
        """The phoneme names of ``text`` read by ``voice``: the PHONEME events of a synthesis
        whose audio is dropped, so the names (stress marks, the ``_:`` pause of a clause's end,
        the ``_`` clause boundary) are exactly those the corpus's ``.phonemes.tsv`` holds."""
        _, events = self.synthesize(text, voice)
        return [name for _, name in events]


def espeak_voice_name(voice: str) -> str:
    """The name espeak-ng's ``SetVoiceByName`` knows: ``en-gb+f3`` -> ``en+f3``."""
    language, plus, variant = voice.partition("+")
    return ESPEAK_ALIASES.get(language, language) + plus + variant


def voice_of(index: int, voices: list[str]) -> str:
    """The voice utterance ``index`` of a render is spoken in (the voices in turn)."""
    return voices[index % len(voices)]


def corpus_voices(root: str | Path) -> dict[str, str] | None:
    """Utterance id -> voice of a corpus :func:`render_corpus` wrote (from its ``corpus.json``
    and the ids' indices, by :func:`voice_of`); None for a folder it did not write."""
    manifest = Path(root) / "corpus.json"
    if not manifest.exists():
        return None
    try:
        voices = list(json.loads(manifest.read_text(encoding="utf-8"))["voices"])
    except (json.JSONDecodeError, KeyError, TypeError):
        return None
    table = {}
    for line in (Path(root) / "metadata.csv").read_text(encoding="utf-8").splitlines():
        name = line.split("|", 1)[0]
        match = re.fullmatch(r"ES\d+-(\d+)", name)
        if match:
            table[name] = voice_of(int(match.group(1)), voices)
    return table


def render_corpus(
    root: str | Path,
    sentences: int = 300,
    voices: list[str] | None = None,
    seed: int = 0,
    source: str = "auto",
) -> Path:
    """Render ``sentences`` utterances into ``root`` (LJSpeech layout); returns ``root``."""
    root = Path(root)
    voices = list(voices or VOICES)
    manifest = {"sentences": sentences, "voices": voices, "seed": seed, "source": source}
    manifest_path = root / "corpus.json"
    wavs = root / "wavs"
    if manifest_path.exists() and (root / "metadata.csv").exists():
        try:
            done = json.loads(manifest_path.read_text()) == manifest
        except json.JSONDecodeError:
            done = False
        if done and _complete(root):
            return root  # idempotent: nothing to do
    texts = pick_sentences(sentences, seed, source)
    rng = random.Random(seed + 7)
    wavs.mkdir(parents=True, exist_ok=True)
    engine = Espeak.get()
    rows = []
    for index, text in enumerate(texts):
        voice = voice_of(index, voices)
        rate, pitch = rng.randint(150, 190), rng.randint(35, 65)  # speaker variety
        name = f"ES{seed:03d}-{index:05d}"
        path = wavs / f"{name}.wav"
        rows.append(f"{name}|{text}|{normalise(text)}")
        if path.exists() and (wavs / f"{name}.phonemes.tsv").exists():
            continue  # resumable
        audio, phonemes = engine.synthesize(text, voice, rate, pitch)
        partial = path.with_suffix(".partial.wav")
        soundfile.write(partial, audio, engine.sample_rate, subtype="PCM_16")
        table = "".join(f"{start}\t{phoneme}\n" for start, phoneme in phonemes)
        (wavs / f"{name}.phonemes.tsv").write_text(table, encoding="utf-8")
        os.replace(partial, path)
    (root / "metadata.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    log.info("rendered %d utterances with espeak-ng into %s", len(rows), root)
    return root


def _complete(root: Path) -> bool:
    """Whether every utterance ``metadata.csv`` names has its wav and phoneme table."""
    for line in (root / "metadata.csv").read_text(encoding="utf-8").splitlines():
        name = line.split("|", 1)[0]
        if name and not (
            (root / "wavs" / f"{name}.wav").exists()
            and (root / "wavs" / f"{name}.phonemes.tsv").exists()
        ):
            return False
    return True
