"""What the sentence encoder costs: the assistant with and without it, side by side.

The issue's budget: `make bench` shows NLU time per message and the Rasa server's memory with
and without the encoder, and the bare Rasa turn grows by at most 10 ms p50. "Without" is a
baseline model trained from config.yml as it was before the encoder: the encoder removed and
the topic classifier replaced by the former logistic regression + fallback classifier, on the
same domain and data. It is trained once and cached in models/ by a fingerprint of its inputs.

The machine has two cores, so only one Rasa server runs at a time: each round starts the
baseline server, measures it, stops it, then does the same with the current model. Rounds
alternate so that whatever else the machine does lands on both models alike.

    .venv/bin/python -m bench.understanding --rounds 3 --messages 200
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml  # type: ignore[import-untyped]

from bench.net import free_port
from bench.proc_stats import machine_cpu, tree_resident_mib
from bench.rasa_stack import RasaStack
from bench.stats import Summary
from bench.turns import QUESTIONS
from bot.assistant_model import (
    PROJECT_ROOT,
    add_files,
    ensure_model,
    rasa_environment,
    rasa_executable,
)

ENCODER = "nlu.sentence_featurizer.SentenceEmbeddingFeaturizer"
TOPIC_CLASSIFIER = "nlu.topic_classifier.TopicClassifier"
# The classifier and fallback the pipeline ended in before the encoder (config.yml at the
# commit before it), with their settings of then.
FORMER_CLASSIFIER: dict[str, Any] = {
    "name": "LogisticRegressionClassifier",
    "max_iter": 300,
    "random_state": 7,
}
FORMER_FALLBACK: dict[str, Any] = {
    "name": "FallbackClassifier",
    "threshold": 0.3,
    "ambiguity_threshold": 0.02,
}
# What the baseline is trained from besides its derived config (hashed as text). Not nlu/ nor
# the model packages' lock: the baseline uses neither, so changing them must not retrain it.
BASELINE_INPUTS = ("domain.yml", "data", "requirements/rasa.lock")
KEEP_BASELINES = 2
PROGRESS_SECONDS = 20

# Customers' own wording, beyond the turn benchmark's eight: typos, SMS spelling, long and
# short messages (the encoder's cost grows with the number of tokens), and some small talk.
# Written for this benchmark; none is a training or evaluation example.
MORE_MESSAGES = [
    "hi there",
    "good morning, hope you can help me",
    "where is my parcel, it was meant to come yesterday",
    "wheres my package CC-771204",
    "my order still says processing after 4 days, is something wrong",
    "can u tell me when my stuff will arrive",
    "i ordered a blender last week and it hasnt shipped yet, order CC-390017",
    "do you ship to Trinidad and how long does it take",
    "how many days for delivery to jamaica",
    "is there express shipping",
    "what are the delivery options to St Lucia",
    "i moved house, need to update where my order goes",
    "can I send the order to my office instead of home",
    "pls cancel order CC-102938 i dont need it anymore",
    "is there a fee if i cancel",
    "i want to add another item to the order i placed this morning",
    "can i change the size on my order before it ships",
    "how do i buy something on your site",
    "do you take paypal",
    "can i pay with a debit card from republic bank",
    "my card keeps getting declined at checkout and I don't know why",
    "payment failed but money left my account",
    "where do i find the receipt for my last purchase",
    "i need an invoice with my company name on it for accounting",
    "how do refunds work if the item arrives damaged",
    "when will i get my money back, i returned the shoes two weeks ago",
    "has my refund been processed yet",
    "forgot my password and the reset email never came",
    "cant log in",
    "how do i make an account",
    "i want to close my account and delete my data",
    "how can i change the email address on my profile",
    "I have two accounts, how do I switch between them",
    "the sign up page gives me an error when I enter my phone number",
    "how do i stop getting your promotional emails",
    "i want to leave a review for the seller",
    "what are your customer service hours",
    "are you a real person or a bot",
    "thanks that helped a lot",
    "ok bye",
    "hello, I placed an order on Saturday for a fridge to be delivered to Bridgetown and "
    "the tracking page has not updated since Monday, could you tell me where it is and "
    "whether it will still arrive this week because I am travelling on Friday",
    "good afternoon, I would like to know which payment methods you accept for orders over "
    "five hundred dollars, and whether I can split the payment between two cards",
]
MESSAGES = [*QUESTIONS, *MORE_MESSAGES]
TURNS_PER_CONVERSATION = 5  # short conversations, so no two-stage fallback state piles up
WARM_UP_MESSAGES = 40


# --- the baseline model -----------------------------------------------------------------------


def baseline_config(config_text: str) -> str:
    """config.yml without the encoder, with the former classifier and fallback instead."""
    config = yaml.safe_load(config_text)
    pipeline: list[dict[str, Any]] = config["pipeline"]
    names = [step["name"] for step in pipeline]
    if ENCODER not in names or TOPIC_CLASSIFIER not in names:
        raise SystemExit(
            f"config.yml no longer has {ENCODER} and {TOPIC_CLASSIFIER}: "
            "bench/understanding.py cannot derive the model without the encoder."
        )
    derived: list[dict[str, Any]] = []
    for step in pipeline:
        if step["name"] == ENCODER:
            continue
        derived.append(dict(FORMER_CLASSIFIER) if step["name"] == TOPIC_CLASSIFIER else step)
    # Last, as it was: it reads the intent ranking and the entities are already extracted.
    derived.append(dict(FORMER_FALLBACK))
    config["pipeline"] = derived
    return str(yaml.safe_dump(config, sort_keys=False))


def baseline_fingerprint(config_text: str, root: Path = PROJECT_ROOT) -> str:
    """Like `bot.assistant_model.fingerprint`, over the derived config and BASELINE_INPUTS."""
    digest = hashlib.sha256(config_text.encode())
    digest.update(b"\0")
    add_files(digest, root, BASELINE_INPUTS)
    return digest.hexdigest()[:16]


def ensure_baseline(root: Path = PROJECT_ROOT) -> Path:
    """The baseline model for the current data, trained first if there is none."""
    config_text = baseline_config((root / "config.yml").read_text())
    name = f"baseline-{baseline_fingerprint(config_text, root)}"
    target = root / "models" / f"{name}.tar.gz"
    if target.exists():
        print(f"Baseline model is current: {target.relative_to(root)}", file=sys.stderr)
        return target
    print(
        "Training the baseline model without the encoder (about two minutes)… "
        f"-> {target.relative_to(root)}",
        file=sys.stderr,
    )
    with tempfile.TemporaryDirectory(prefix="cc-baseline-") as tmp:
        config = Path(tmp) / "config.yml"
        config.write_text(config_text)
        log_path = Path(tmp) / "train.log"
        command = [
            str(rasa_executable(root)), "train",
            "--config", str(config), "--domain", "domain.yml", "--data", "data",
            "--out", "models", "--fixed-model-name", name,
        ]  # fmt: skip
        started = time.monotonic()
        with log_path.open("wb") as log:
            # Rasa's own output goes to a log (shown only if training fails): the bench's
            # report should stay readable, and a line now and then says it is still going.
            process = subprocess.Popen(
                command, cwd=root, env=rasa_environment(), stdout=log, stderr=subprocess.STDOUT
            )
            while True:
                try:
                    process.wait(timeout=PROGRESS_SECONDS)
                    break
                except subprocess.TimeoutExpired:
                    elapsed = time.monotonic() - started
                    print(f"  … still training ({elapsed:.0f} s)", file=sys.stderr)
        if process.returncode != 0 or not target.exists():
            tail = log_path.read_text(errors="replace")[-4000:]
            raise SystemExit(f"Training the baseline failed (exit {process.returncode}):\n{tail}")
    print(f"Baseline trained in {time.monotonic() - started:.0f} s.", file=sys.stderr)
    _remove_stale_baselines(root / "models", keep=target)
    return target


def _remove_stale_baselines(models_dir: Path, *, keep: Path) -> None:
    # Models are large; keep a couple so switching branches back and forth stays cheap.
    older = sorted(
        (p for p in models_dir.glob("baseline-*.tar.gz") if p != keep),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for stale in older[KEEP_BASELINES - 1 :]:
        stale.unlink(missing_ok=True)


# --- one Rasa server at a time ----------------------------------------------------------------


@dataclass
class ModelStack(RasaStack):
    """RasaStack with the HTTP API on (for POST /model/parse), serving one model at a time.

    Production leaves the API off; it is on here only so NLU can be timed on its own. The
    action server stays up while the Rasa server is swapped from one model to the other.
    """

    enable_api: bool = True

    def serve(self, model: Path) -> None:
        """Stop the Rasa server, then start one on `model` (never two at once)."""
        process = self._processes.pop("rasa", None)
        if process is not None:
            process.terminate()
            process.wait(timeout=30)
        self.model = model
        # A fresh port: no connection of the last server's can reach the new one.
        self.rasa_port = free_port()
        self.start_rasa()

    @property
    def rasa_pid(self) -> int:
        return self.pids["rasa"]


# --- measuring --------------------------------------------------------------------------------


@dataclass
class Round:
    parse: list[float] = field(default_factory=list)
    turn: list[float] = field(default_factory=list)
    parse_seconds: float = 0.0
    turn_seconds: float = 0.0
    rss_mib: float = 0.0


async def _parse(client: httpx.AsyncClient, text: str) -> float:
    started = time.perf_counter()
    response = await client.post("/model/parse", json={"text": text})
    elapsed = (time.perf_counter() - started) * 1000
    response.raise_for_status()
    return elapsed


class Conversations:
    """Bare Rasa turns through the gateway channel, as `bench.turns.RasaDirect` sends them.

    Unlike the turn benchmark's fixed questions, varied messages may be classified as a
    request for a person or leave the assistant unsure; the conversation is then ended, so a
    silenced or clarifying conversation does not make later turns cheaper or dearer.
    """

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client
        self._sender = ""
        self._turns = 0

    async def turn(self, text: str) -> float:
        if not self._sender or self._turns >= TURNS_PER_CONVERSATION:
            self._sender, self._turns = f"bench-nlu-{uuid.uuid4().hex}", 0
        started = time.perf_counter()
        response = await self._client.post(
            "/webhooks/gateway/webhook", json={"sender": self._sender, "message": text}
        )
        elapsed = (time.perf_counter() - started) * 1000
        response.raise_for_status()
        self._turns += 1
        body = response.json()
        messages = body.get("messages") or []
        intent = (body.get("intent") or {}).get("name")
        if (
            not messages
            or intent == "nlu_fallback"
            or any("handoff" in (m.get("custom") or {}) for m in messages)
        ):
            self._sender = ""
        return elapsed


async def measure_round(rasa_url: str, pid: int, *, messages: int, offset: int) -> Round:
    """Warm the server up, read its memory, then time `messages` parses and as many turns."""
    result = Round()
    async with httpx.AsyncClient(base_url=rasa_url, timeout=60) as client:
        conversations = Conversations(client)
        # First messages load lazily built parts (tokenizer, model graph): not measured.
        for i in range(WARM_UP_MESSAGES):
            await _parse(client, MESSAGES[i % len(MESSAGES)])
            await conversations.turn(MESSAGES[i % len(MESSAGES)])
        result.rss_mib = tree_resident_mib(pid)
        texts = [MESSAGES[(offset + i) % len(MESSAGES)] for i in range(messages)]
        started = time.perf_counter()
        for text in texts:
            result.parse.append(await _parse(client, text))
        result.parse_seconds = time.perf_counter() - started
        started = time.perf_counter()
        for text in texts:
            result.turn.append(await conversations.turn(text))
        result.turn_seconds = time.perf_counter() - started
    return result


@dataclass
class Totals:
    rounds: list[Round] = field(default_factory=list)

    def parse(self) -> Summary:
        return Summary(
            "NLU",
            [x for r in self.rounds for x in r.parse],
            sum(r.parse_seconds for r in self.rounds),
        )

    def turn(self) -> Summary:
        return Summary(
            "turn",
            [x for r in self.rounds for x in r.turn],
            sum(r.turn_seconds for r in self.rounds),
        )

    def rss(self) -> float:
        return statistics.median(r.rss_mib for r in self.rounds)


def compare(workdir: Path, *, rounds: int, messages: int) -> list[str]:
    """Train/find both models, measure them in alternating rounds; return report lines."""
    workdir.mkdir(parents=True, exist_ok=True)
    models = {"without": ensure_baseline(), "with": ensure_model(quiet=True)}
    totals = {label: Totals() for label in models}
    print("Starting the action server and Rasa (one model at a time)…", file=sys.stderr)
    stack = ModelStack(workdir=workdir, model=models["without"])
    stack.start()
    # How busy the whole machine was: other work slows both columns, though not equally
    # within a round, so a busy figure well above this bench's own says to run it again.
    busy_start, total_start = machine_cpu()
    try:
        first = True
        for index in range(rounds):
            for label, model in models.items():
                # Every round on a freshly started server (the stack started the first), so
                # each RSS reading and warm-up is alike.
                if not first:
                    stack.serve(model)
                first = False
                print(
                    f"  round {index + 1}/{rounds}: {label} the encoder ({model.name})",
                    file=sys.stderr,
                )
                totals[label].rounds.append(
                    asyncio.run(
                        measure_round(
                            stack.rasa_url,
                            stack.rasa_pid,
                            messages=messages,
                            offset=index * messages,
                        )
                    )
                )
    finally:
        stack.stop()
    busy, total = machine_cpu()
    share = (busy - busy_start) / (total - total_start) if total > total_start else 0.0
    return [
        *table(totals["without"], totals["with"]),
        f"  machine busy {share:.0%} of all cores during the rounds (this bench included)",
    ]


def table(without: Totals, with_: Totals) -> list[str]:
    parse = (without.parse(), with_.parse())
    turn = (without.turn(), with_.turn())
    rows: list[tuple[str, float, float, str]] = [
        ("NLU p50 (POST /model/parse)", parse[0].p50, parse[1].p50, "ms"),
        ("NLU p99", parse[0].p99, parse[1].p99, "ms"),
        ("Rasa turn p50 (gateway channel, c=1)", turn[0].p50, turn[1].p50, "ms"),
        ("Rasa turn p99", turn[0].p99, turn[1].p99, "ms"),
        ("Rasa server RSS after warm-up", without.rss(), with_.rss(), "MiB"),
    ]
    lines = [f"  {'':<38}{'without encoder':>17}{'with encoder':>15}{'difference':>13}"]
    for label, before, after, unit in rows:
        lines.append(
            f"  {label:<38}{before:>13.1f} {unit:<3}{after:>11.1f} {unit:<3}"
            f"{after - before:>+9.1f} {unit}"
        )
    growth = turn[1].p50 - turn[0].p50
    lines += [
        f"  ({len(parse[0].latencies_ms)} messages and as many turns per model; "
        f"RSS is the median of the rounds)",
        f"  Rasa turn p50 grows by {growth:+.1f} ms (the issue's budget: at most +10 ms)",
    ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description="NLU time and memory with and without the encoder")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per model")
    parser.add_argument("--messages", type=int, default=200, help="messages per round")
    args = parser.parse_args()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="cc-bench-nlu-") as tmp:
        lines = compare(Path(tmp), rounds=args.rounds, messages=args.messages)
    print(
        f"\nUnderstanding with and without the sentence encoder ({platform.node()}, "
        f"{args.rounds} alternating rounds of {args.messages} messages)"
    )
    print("\n".join(lines))
    print(f"  (wall time {time.monotonic() - started:.0f} s)", file=sys.stderr)


if __name__ == "__main__":
    main()
