"""Rasa graph component: the customer's topic, or an honest "not sure".

Logistic regression over the sparse n-gram features and the dense sentence embedding
together (`dense_weight` balances the two), plus the nearest training examples in the
embedding space, which tell a confident guess from a message unlike anything taught. The
decision to abstain is `nlu.abstain.decide` at the operating point configured in config.yml,
chosen from the curve `make eval` prints. It replaces Rasa's FallbackClassifier: that one sees
only the probability, which stays high for fluent off-topic questions.

Output, besides `intent` and `intent_ranking`: `topic_scores` (the raw signals), which the
evaluation replays over other thresholds.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Dict, List, Optional, Text, Tuple

import numpy as np
import scipy.sparse
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.nlu.featurizers.featurizer import Featurizer
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.linear_model import LogisticRegression

from nlu.abstain import NLU_FALLBACK, OUT_OF_SCOPE, Scores, decide, operating_points, point_for

logger = logging.getLogger(__name__)

RANKING_LENGTH = 10


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class TopicClassifier(IntentClassifier, GraphComponent):
    """Classifies a message's intent from sparse and dense features, abstaining when unsure."""

    @classmethod
    def required_components(cls) -> List[type]:
        return [Featurizer]

    @staticmethod
    def required_packages() -> List[Text]:
        return ["sklearn"]

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            "dense_weight": 2.0,
            "C": 4.0,
            "max_iter": 2000,
            "random_state": 7,
            # language -> {min_probability, min_similarity, off_topic_similarity}; "default"
            # for languages without their own (nlu/abstain.py).
            "operating_points": {},
        }

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        classifier: Optional[LogisticRegression] = None,
        examples: Optional[np.ndarray] = None,
        example_intents: Optional[np.ndarray] = None,
    ) -> None:
        self._config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self._classifier = classifier
        self._examples = examples  # unit-length embeddings of the training examples
        self._example_intents = example_intents
        self._points = operating_points(self._config)

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "TopicClassifier":
        return cls(config, model_storage, resource)

    # --- training -------------------------------------------------------------------------

    def train(self, training_data: TrainingData) -> Resource:
        """Fits the classifier and keeps the examples' embeddings for the similarity checks."""
        examples = [m for m in training_data.intent_examples if m.get(INTENT) and m.get(TEXT)]
        if not examples:
            logger.warning("TopicClassifier: no intent examples, nothing trained.")
            return self._resource
        features, embeddings = self._features(examples)
        labels = np.array([m.get(INTENT) for m in examples])
        classifier = LogisticRegression(
            C=float(self._config["C"]),
            max_iter=int(self._config["max_iter"]),
            class_weight="balanced",
            random_state=int(self._config["random_state"]),
        )
        classifier.fit(features, labels)
        self._classifier = classifier
        self._examples = embeddings
        self._example_intents = labels
        self._persist()
        return self._resource

    def _features(self, messages: List[Message]) -> Tuple[scipy.sparse.csr_matrix, np.ndarray]:
        sparse_rows = []
        dense_rows = []
        for message in messages:
            _, sparse_sentence = message.get_sparse_features(TEXT)
            _, dense_sentence = message.get_dense_features(TEXT)
            if dense_sentence is None:
                raise ValueError(
                    "TopicClassifier needs the SentenceEmbeddingFeaturizer before it in the "
                    "pipeline."
                )
            sparse_rows.append(
                scipy.sparse.csr_matrix(sparse_sentence.features)
                if sparse_sentence is not None
                else scipy.sparse.csr_matrix((1, 0))
            )
            dense_rows.append(np.asarray(dense_sentence.features, dtype=np.float32).reshape(-1))
        embeddings = np.vstack(dense_rows)
        features = scipy.sparse.hstack(
            [
                scipy.sparse.vstack(sparse_rows),
                scipy.sparse.csr_matrix(embeddings * float(self._config["dense_weight"])),
            ]
        ).tocsr()
        return features, embeddings

    # --- prediction -----------------------------------------------------------------------

    def _prepare(self) -> None:
        """Lays the trained model out for one message at a time, the way turns come.

        `predict_proba` on an hstack of sparse and dense features costs milliseconds a
        message in copies (the coefficients transposed, the matrices rebuilt); the same
        softmax from contiguous weights costs microseconds. Off-topic examples are left out of
        the similarity matrix: neither similarity looks at them.
        """
        assert self._classifier is not None and self._examples is not None
        labels = np.asarray(self._example_intents)
        width = self._examples.shape[1]
        coef = np.asarray(self._classifier.coef_, dtype=np.float64)
        self._sparse_weights = np.ascontiguousarray(coef[:, :-width].T)
        self._dense_weights = np.ascontiguousarray(
            coef[:, -width:].T * float(self._config["dense_weight"])
        )
        self._intercept = np.asarray(self._classifier.intercept_, dtype=np.float64)
        kept = labels != OUT_OF_SCOPE
        self._known = np.ascontiguousarray(self._examples[kept], dtype=np.float32)
        self._rows_by_intent = {
            str(intent): np.flatnonzero(labels[kept] == intent) for intent in np.unique(labels)
        }

    def _probabilities(self, message: Message, embedding: np.ndarray) -> np.ndarray:
        # LogisticRegression's multinomial predict_proba: a softmax of the decision values.
        _, sparse_sentence = message.get_sparse_features(TEXT)
        decision = embedding @ self._dense_weights + self._intercept
        if sparse_sentence is not None:
            decision = decision + np.asarray(
                scipy.sparse.csr_matrix(sparse_sentence.features) @ self._sparse_weights
            ).reshape(-1)
        decision = decision - decision.max()
        weights = np.exp(decision)
        return weights / weights.sum()

    def process(self, messages: List[Message]) -> List[Message]:
        """Sets `intent`, `intent_ranking` and `topic_scores` on each message."""
        if self._classifier is None or self._examples is None or self._example_intents is None:
            return messages
        if not hasattr(self, "_known"):
            self._prepare()
        for message in messages:
            if not message.get(TEXT):
                continue
            _, dense_sentence = message.get_dense_features(TEXT)
            if dense_sentence is None:
                raise ValueError(
                    "TopicClassifier needs the SentenceEmbeddingFeaturizer before it in the "
                    "pipeline."
                )
            embedding = np.asarray(dense_sentence.features, dtype=np.float32).reshape(-1)
            row = self._probabilities(message, embedding)
            self._set_prediction(message, row, self._known @ embedding)
        return messages

    def _set_prediction(self, message: Message, row: np.ndarray, similarity: np.ndarray) -> None:
        intents = self._classifier.classes_  # type: ignore[union-attr]
        order = np.argsort(-row)
        top = str(intents[order[0]])
        topic_rows = self._rows_by_intent.get(top)
        scores = Scores(
            top_intent=top,
            probability=float(row[order[0]]),
            topic_similarity=float(similarity[topic_rows].max())
            if topic_rows is not None and topic_rows.size
            else 0.0,
            catalogue_similarity=float(similarity.max()) if similarity.size else 0.0,
        )
        # The conversation's language, as the gateway decided it (turn metadata).
        language = (message.get("metadata") or {}).get("language")
        chosen = decide(scores, point_for(self._points, language))
        ranking = [
            {"name": str(intents[i]), "confidence": float(row[i])} for i in order[:RANKING_LENGTH]
        ]
        if chosen == top:
            intent = {"name": top, "confidence": scores.probability}
        elif chosen == OUT_OF_SCOPE:
            # Confidence of "off-topic": how far the message is from everything taught.
            intent = {
                "name": OUT_OF_SCOPE,
                "confidence": 1.0 - max(scores.catalogue_similarity, 0.0),
            }
        else:
            intent = {"name": NLU_FALLBACK, "confidence": 1.0 - scores.probability}
        if chosen != top:
            ranking.insert(0, dict(intent))
        message.set(INTENT, intent, add_to_output=True)
        message.set("intent_ranking", ranking, add_to_output=True)
        message.set(
            "topic_scores",
            {
                "top_intent": scores.top_intent,
                "probability": round(scores.probability, 4),
                "topic_similarity": round(scores.topic_similarity, 4),
                "catalogue_similarity": round(scores.catalogue_similarity, 4),
                "language": language,
            },
            add_to_output=True,
        )

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        # Predicting on the training examples would overwrite their labels; later
        # components (entity extraction) need nothing from this one.
        return training_data

    # --- persistence ----------------------------------------------------------------------

    def _persist(self) -> None:
        import skops.io as sio

        with self._model_storage.write_to(self._resource) as directory:
            sio.dump(self._classifier, directory / "classifier.skops")
            np.save(directory / "examples.npy", self._examples)
            (directory / "example_intents.json").write_text(
                json.dumps([str(i) for i in self._example_intents])  # type: ignore[union-attr]
            )

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "TopicClassifier":
        import skops.io as sio

        try:
            with model_storage.read_from(resource) as directory:
                path = directory / "classifier.skops"
                untrusted = sio.get_untrusted_types(file=path)
                if untrusted:
                    # A plain LogisticRegression has none: anything else was not written here.
                    raise ValueError(f"untrusted types in {path.name}: {untrusted}")
                classifier = sio.load(path, trusted=False)
                examples = np.load(directory / "examples.npy")
                intents = np.array(json.loads((directory / "example_intents.json").read_text()))
        except (ValueError, FileNotFoundError):
            logger.debug("TopicClassifier: nothing persisted for %s", resource.name)
            return cls(config, model_storage, resource)
        return cls(config, model_storage, resource, classifier, examples, intents)
