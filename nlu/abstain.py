"""When the assistant should say "not sure" instead of answering: one rule, two users.

The topic classifier applies it on every turn; `make eval` (nlu/evaluate.py) replays it over a
grid of thresholds to draw the curve of (in-scope right, off-topic caught) and pick the
operating point that config.yml then carries. Keeping the rule here, free of Rasa, means the
evaluation measures exactly what runs.

Three signals, from one classification:
- `probability`: the classifier's probability for its best topic;
- `topic_similarity`: cosine similarity of the message to the nearest training example of
  that topic (the sentence encoder's space): a confident classifier far from every example
  it learnt is guessing;
- `catalogue_similarity`: similarity to the nearest training example of any intent but
  out_of_scope: a message near nothing the assistant knows is off-topic, whatever the
  classifier says.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional, Text

OUT_OF_SCOPE = "out_of_scope"
NLU_FALLBACK = "nlu_fallback"
DEFAULT_POINT = "default"


@dataclass(frozen=True)
class OperatingPoint:
    """Thresholds below which the assistant abstains."""

    min_probability: float
    min_similarity: float
    off_topic_similarity: float


@dataclass(frozen=True)
class Scores:
    """What the classifier saw for one message, before deciding."""

    top_intent: Text
    probability: float
    topic_similarity: float
    catalogue_similarity: float


def decide(scores: Scores, point: OperatingPoint) -> Text:
    """The intent to act on: the best topic, `out_of_scope`, or `nlu_fallback` (ask)."""
    if scores.top_intent == OUT_OF_SCOPE:
        return OUT_OF_SCOPE
    if scores.catalogue_similarity < point.off_topic_similarity:
        # Nothing the assistant was taught is close: an honest "I can't help with that"
        # serves the customer better than "did you mean <unrelated topic>?".
        return OUT_OF_SCOPE
    if scores.probability < point.min_probability or scores.topic_similarity < point.min_similarity:
        return NLU_FALLBACK
    return scores.top_intent


def operating_points(config: Mapping[Text, Any]) -> Dict[Text, OperatingPoint]:
    """The points the topic classifier's config gives, by language, with a `default`.

    The sentence encoder is English-first, so similarities mean less in other languages and
    each language has its own curve; a language without a point of its own uses `default`.
    """
    raw = dict(config.get("operating_points") or {})
    points = {
        language: OperatingPoint(
            min_probability=float(values.get("min_probability", 0.0)),
            min_similarity=float(values.get("min_similarity", 0.0)),
            off_topic_similarity=float(values.get("off_topic_similarity", 0.0)),
        )
        for language, values in raw.items()
    }
    points.setdefault(DEFAULT_POINT, OperatingPoint(0.0, 0.0, 0.0))
    return points


def point_for(points: Mapping[Text, OperatingPoint], language: Optional[Text]) -> OperatingPoint:
    return points.get(language or DEFAULT_POINT) or points[DEFAULT_POINT]
