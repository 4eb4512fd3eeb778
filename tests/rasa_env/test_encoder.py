"""The sentence encoder reproduces all-MiniLM-L6-v2, and the topic classifier's abstain rule."""

import unittest

import numpy as np

from nlu.abstain import (
    NLU_FALLBACK,
    OUT_OF_SCOPE,
    OperatingPoint,
    Scores,
    decide,
    operating_points,
    point_for,
)
from nlu.minilm import EMBEDDING_SIZE, MiniLMEncoder

# The model's published reference: the first five dimensions of the embedding of
# "hello world", as the model's canonical test values give them (tolerance 1e-3).
HELLO_WORLD_REFERENCE = np.array([-0.034478, 0.03102, 0.00673, 0.02611, -0.039362])


class EncoderTest(unittest.TestCase):
    encoder: MiniLMEncoder

    @classmethod
    def setUpClass(cls) -> None:
        cls.encoder = MiniLMEncoder()

    def test_matches_the_published_reference_vector(self) -> None:
        vector = self.encoder.encode(["hello world"])[0]
        np.testing.assert_allclose(vector[:5], HELLO_WORLD_REFERENCE, atol=1e-3)

    def test_embeddings_are_unit_length_and_sized(self) -> None:
        vectors = self.encoder.encode(["where is my order", "tracking pls", "", "x" * 5000])
        self.assertEqual(vectors.shape, (4, EMBEDDING_SIZE))
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)

    def test_a_batch_gives_what_one_at_a_time_gives(self) -> None:
        texts = ["refund status", "mi cyaan log in to mi account", "do you ship to Canada?"]
        batch = self.encoder.encode(texts)
        single = np.vstack([self.encoder.encode([t]) for t in texts])
        np.testing.assert_allclose(batch, single, atol=1e-5)

    def test_meaning_is_closer_than_words(self) -> None:
        where, track, weather = self.encoder.encode(
            ["where is my parcel", "track my package", "will it rain in Kingston"]
        )
        self.assertGreater(float(where @ track), float(where @ weather) + 0.2)

    def test_word_pieces_are_the_models_own(self) -> None:
        # [CLS] hello world [SEP] in the model's vocabulary.
        self.assertEqual(self.encoder.token_ids("Hello world"), [101, 7592, 2088, 102])


class AbstainTest(unittest.TestCase):
    point = OperatingPoint(min_probability=0.4, min_similarity=0.45, off_topic_similarity=0.5)

    def scores(self, top: str = "track_order", p: float = 0.9, t: float = 0.8, c: float = 0.8):
        return Scores(top_intent=top, probability=p, topic_similarity=t, catalogue_similarity=c)

    def test_a_sure_close_guess_is_answered(self) -> None:
        self.assertEqual(decide(self.scores(), self.point), "track_order")

    def test_far_from_everything_taught_is_off_topic(self) -> None:
        self.assertEqual(decide(self.scores(c=0.3, t=0.3), self.point), OUT_OF_SCOPE)

    def test_unsure_or_far_from_its_topic_asks(self) -> None:
        self.assertEqual(decide(self.scores(p=0.3), self.point), NLU_FALLBACK)
        self.assertEqual(decide(self.scores(t=0.4), self.point), NLU_FALLBACK)

    def test_an_off_topic_guess_stays_off_topic(self) -> None:
        self.assertEqual(decide(self.scores(top=OUT_OF_SCOPE, p=0.2), self.point), OUT_OF_SCOPE)

    def test_each_language_has_its_point_and_others_the_default(self) -> None:
        points = operating_points(
            {
                "operating_points": {
                    "default": {"min_probability": 0.4},
                    "ht": {"min_probability": 0.6, "off_topic_similarity": 0.5},
                }
            }
        )
        self.assertEqual(point_for(points, "ht"), OperatingPoint(0.6, 0.0, 0.5))
        self.assertEqual(point_for(points, "es"), OperatingPoint(0.4, 0.0, 0.0))
        self.assertEqual(point_for(points, None), OperatingPoint(0.4, 0.0, 0.0))
        self.assertEqual(point_for(operating_points({}), "fr"), OperatingPoint(0.0, 0.0, 0.0))


if __name__ == "__main__":
    unittest.main()
