"""`make eval`: how well the trained assistant understands requests it never saw.

Classifies every request under `evaluation/<language>/` with the current model and prints, per
language:
- top-1 per catalogue topic and overall (an abstention counts as not right);
- wrong fallbacks: in-scope requests met with a clarifying question or "I can't help";
- the most frequent confusions;
- off-topic questions caught (answered with the out-of-scope reply or a clarifying question,
  never with a catalogue answer);
- the curve of (in-scope right, off-topic caught) over the abstain thresholds, replayed with
  `nlu.abstain.decide` on the classifier's raw scores, with the operating point config.yml
  carries and the best point the curve offers.

The evaluation sets are written from CATALOGUE.md by people who never saw `data/`, and they
are never trained on (tests/assistant/test_evaluation_set.py fails if one leaks into data/).

Run in the Rasa environment: `python -m nlu.evaluate [--model PATH] [--language en]`.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import yaml

from nlu.abstain import (
    NLU_FALLBACK,
    OUT_OF_SCOPE,
    OperatingPoint,
    Scores,
    decide,
    operating_points,
    point_for,
)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
EVALUATION_DIR = PROJECT_ROOT / "evaluation"
ABSTAINED = frozenset({OUT_OF_SCOPE, NLU_FALLBACK})
# Targets the issue tracker set for understanding: in-scope top-1 and off-topic caught.
TARGETS = {"en": (0.93, 0.90)}
DEFAULT_TARGET = (0.85, 0.90)

GRID_PROBABILITY = [round(0.05 * i, 2) for i in range(0, 17)]
GRID_SIMILARITY = [round(0.05 * i, 2) for i in range(0, 15)]
GRID_OFF_TOPIC = [round(0.05 * i, 2) for i in range(0, 13)]


@dataclass(frozen=True)
class Request:
    text: str
    label: str  # a catalogue topic, or out_of_scope


@dataclass(frozen=True)
class Classified:
    request: Request
    scores: Scores


def read_requests(directory: Path) -> List[Request]:
    """Every request of one language: `in_scope/<topic>.txt` and `out_of_scope/*.txt`."""
    requests: List[Request] = []
    for path in sorted((directory / "in_scope").glob("*.txt")):
        requests += [Request(text, path.stem) for text in _lines(path)]
    for path in sorted((directory / "out_of_scope").glob("*.txt")):
        requests += [Request(text, OUT_OF_SCOPE) for text in _lines(path)]
    return requests


def _lines(path: Path) -> Iterable[str]:
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            yield line


def languages(root: Path = EVALUATION_DIR) -> List[str]:
    return sorted(p.name for p in root.iterdir() if p.is_dir() and (p / "in_scope").is_dir())


def configured_points(config_path: Path = PROJECT_ROOT / "config.yml") -> Dict[str, OperatingPoint]:
    """The operating points config.yml gives the topic classifier, by language."""
    pipeline = yaml.safe_load(config_path.read_text())["pipeline"]
    entry = next(c for c in pipeline if str(c["name"]).endswith("TopicClassifier"))
    return operating_points(entry)


# --- classification -------------------------------------------------------------------------


def _load_agent(model: Path) -> Any:
    from rasa.core.agent import Agent
    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.log_utils import configure_structlog

    # One debug line per parsed message would bury the report.
    configure_logging_and_warnings(logging.WARNING)
    configure_structlog(logging.WARNING)
    return Agent.load(str(model))


async def _classify(
    agent: Any, requests: Sequence[Request], language: str
) -> Tuple[List[Classified], float]:
    from rasa.core.channels.channel import UserMessage

    classified = []
    started = time.perf_counter()
    for done, request in enumerate(requests, 1):
        # The language travels as the gateway sends it: in the turn's metadata.
        message = UserMessage(request.text, metadata={"language": language})
        parsed = await agent.processor.parse_message(message, only_output_properties=False)
        raw = dict(parsed["topic_scores"])
        raw.pop("language", None)
        classified.append(Classified(request, Scores(**raw)))
        if done % 500 == 0:
            print(f"  classified {done}/{len(requests)}", file=sys.stderr)
    per_message_ms = (time.perf_counter() - started) * 1000 / max(len(requests), 1)
    return classified, per_message_ms


# --- figures --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    in_scope_right: float
    off_topic_caught: float
    wrong_fallbacks: float
    per_topic: Dict[str, Tuple[int, int]]
    confusions: List[Tuple[Tuple[str, str], int]]


def figures(classified: Sequence[Classified], point: OperatingPoint) -> Figures:
    in_scope = [c for c in classified if c.request.label != OUT_OF_SCOPE]
    off_topic = [c for c in classified if c.request.label == OUT_OF_SCOPE]
    per_topic: Dict[str, List[int]] = {}
    confusions: Counter[Tuple[str, str]] = Counter()
    right = fallbacks = 0
    for c in in_scope:
        predicted = decide(c.scores, point)
        tally = per_topic.setdefault(c.request.label, [0, 0])
        tally[1] += 1
        if predicted == c.request.label:
            right += 1
            tally[0] += 1
        else:
            confusions[(c.request.label, predicted)] += 1
            fallbacks += predicted in ABSTAINED
    caught = sum(decide(c.scores, point) in ABSTAINED for c in off_topic)
    for c in off_topic:
        predicted = decide(c.scores, point)
        if predicted not in ABSTAINED:
            confusions[(OUT_OF_SCOPE, predicted)] += 1
    return Figures(
        in_scope_right=right / max(len(in_scope), 1),
        off_topic_caught=caught / max(len(off_topic), 1),
        wrong_fallbacks=fallbacks / max(len(in_scope), 1),
        per_topic={k: (v[0], v[1]) for k, v in sorted(per_topic.items())},
        confusions=confusions.most_common(15),
    )


def curve(classified: Sequence[Classified]) -> List[Tuple[OperatingPoint, float, float]]:
    """The best trade-offs the grid of thresholds offers: the Pareto frontier, by in-scope.

    Vectorised replay of `decide`: a request is answered with its top intent unless that is
    out_of_scope or a threshold is missed; everything else is an abstention.
    """
    import numpy as np

    probability = np.array([c.scores.probability for c in classified])
    topic_similarity = np.array([c.scores.topic_similarity for c in classified])
    catalogue_similarity = np.array([c.scores.catalogue_similarity for c in classified])
    top_is_off_topic = np.array([c.scores.top_intent == OUT_OF_SCOPE for c in classified])
    top_is_label = np.array([c.scores.top_intent == c.request.label for c in classified])
    off_topic = np.array([c.request.label == OUT_OF_SCOPE for c in classified])
    in_scope_n = max(int((~off_topic).sum()), 1)
    off_topic_n = max(int(off_topic.sum()), 1)
    points = []
    for p, s, o in itertools.product(GRID_PROBABILITY, GRID_SIMILARITY, GRID_OFF_TOPIC):
        abstains = (
            top_is_off_topic
            | (catalogue_similarity < o)
            | (probability < p)
            | (topic_similarity < s)
        )
        right = float((~abstains & top_is_label & ~off_topic).sum()) / in_scope_n
        caught = float((abstains & off_topic).sum()) / off_topic_n
        point = OperatingPoint(min_probability=p, min_similarity=s, off_topic_similarity=o)
        points.append((point, right, caught))
    points.sort(key=lambda x: (-x[1], -x[2]))
    frontier = []
    best_caught = -1.0
    for entry in points:
        if entry[2] > best_caught:
            frontier.append(entry)
            best_caught = entry[2]
    return frontier


def best_point(
    frontier: Sequence[Tuple[OperatingPoint, float, float]], min_caught: float
) -> Optional[Tuple[OperatingPoint, float, float]]:
    """The frontier point with the most in-scope right among those catching `min_caught`."""
    eligible = [e for e in frontier if e[2] >= min_caught]
    return max(eligible, key=lambda e: (e[1], e[2])) if eligible else None


# --- report ---------------------------------------------------------------------------------


def _pct(x: float) -> str:
    return f"{100 * x:5.1f} %"


def _describe(point: OperatingPoint) -> str:
    return (
        f"min_probability={point.min_probability:.2f} min_similarity={point.min_similarity:.2f} "
        f"off_topic_similarity={point.off_topic_similarity:.2f}"
    )


def report(language: str, classified: Sequence[Classified], point: OperatingPoint) -> bool:
    """Prints one language's figures; True when they meet the targets."""
    f = figures(classified, point)
    in_scope_n = sum(c.request.label != OUT_OF_SCOPE for c in classified)
    off_topic_n = len(classified) - in_scope_n
    target_right, target_caught = TARGETS.get(language, DEFAULT_TARGET)
    print(f"\n=== {language}: {in_scope_n} in-scope requests, {off_topic_n} off-topic questions")
    print(f"operating point (config.yml): {_describe(point)}")
    print("\ntopic                          right")
    for topic, (right, total) in f.per_topic.items():
        print(f"  {topic:<28} {right:3d}/{total:<3d} {_pct(right / total)}")
    print(f"\nin-scope top-1          {_pct(f.in_scope_right)}   (target {_pct(target_right)})")
    print(f"wrong fallbacks         {_pct(f.wrong_fallbacks)}")
    print(f"off-topic caught        {_pct(f.off_topic_caught)}   (target {_pct(target_caught)})")
    print("\ntop confusions (true -> predicted: count)")
    for (true, predicted), count in f.confusions:
        print(f"  {true} -> {predicted}: {count}")
    frontier = curve(classified)
    print("\ncurve: best in-scope right for each off-topic caught (grid of thresholds)")
    print("  in-scope  off-topic  thresholds")
    step = max(1, len(frontier) // 20)
    for entry in [*frontier[::step], frontier[-1]]:
        print(f"  {_pct(entry[1])}  {_pct(entry[2])}  {_describe(entry[0])}")
    best = best_point(frontier, target_caught)
    if best:
        print(
            f"best point catching >= {_pct(target_caught)} of off-topic: "
            f"in-scope {_pct(best[1])}, off-topic {_pct(best[2])}: {_describe(best[0])}"
        )
    met = f.in_scope_right >= target_right and f.off_topic_caught >= target_caught
    print(f"\n{language}: {'targets met' if met else 'BELOW TARGET'}")
    return met


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="trained model (default: the current one)")
    parser.add_argument("--language", action="append", help="only these languages")
    parser.add_argument(
        "--strict", action="store_true", help="exit non-zero when a language misses its targets"
    )
    args = parser.parse_args(argv)
    model = args.model or _current_model()
    points = configured_points()
    agent = _load_agent(model)
    met_all = True
    for language in args.language or languages():
        requests = read_requests(EVALUATION_DIR / language)
        print(f"Classifying {len(requests)} {language} requests with {model.name}", file=sys.stderr)
        classified, per_message_ms = asyncio.run(_classify(agent, requests, language))
        met_all &= report(language, classified, point_for(points, language))
        print(f"({per_message_ms:.1f} ms per request through Rasa's NLU, this run)")
    return 0 if met_all or not args.strict else 1


def _current_model() -> Path:
    models = sorted(
        (PROJECT_ROOT / "models").glob("assistant-*.tar.gz"), key=lambda p: p.stat().st_mtime
    )
    if not models:
        raise SystemExit("No trained model: run `make model` first.")
    return models[-1]


if __name__ == "__main__":
    sys.exit(main())
