"""The sentence encoder (TensorFlow forward pass of the packaged all-MiniLM-L6-v2), its featurizer and classifier."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.meaning_classifier import MeaningIntentClassifier
from bot.meaning_featurizer import MeaningFeaturizer, text_for_meaning
from bot.sentence_encoder import DIMENSIONS, MAX_CHARS, SentenceEncoder, model_dir, reference_hidden_states


@pytest.fixture(scope="module")
def encoder() -> SentenceEncoder:
    return SentenceEncoder.load()


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_the_weights_come_from_the_installed_package() -> None:
    directory = model_dir()
    assert (directory / "model.safetensors").stat().st_size > 80_000_000
    assert "site-packages" in directory.as_posix()


def test_tensorflow_forward_pass_matches_the_numpy_reference(encoder: SentenceEncoder) -> None:
    texts = ["I was charged twice for the same thing", "hi", "Mi contraseña no funciona 😡 !!"]
    ids, mask = encoder.tokenize(texts)
    tf_states = encoder.hidden_states(ids, mask)
    np_states = reference_hidden_states(encoder.weights, encoder.config, ids, mask)
    # bfloat16 matrices in TensorFlow: states within a few hundredths, sentence vectors practically the same.
    assert np.abs(tf_states - np_states)[mask > 0].max() < 0.1
    for row in range(len(texts)):
        real = mask[row] > 0
        assert _cos(tf_states[row][real].mean(axis=0), np_states[row][real].mean(axis=0)) > 0.9999


def test_same_meaning_is_close_and_other_topics_are_far(encoder: SentenceEncoder) -> None:
    twice, duplicate, weather = encoder.sentence_vectors(
        ["I was charged twice for the same thing", "there is a duplicate payment on my card", "will it rain tomorrow"]
    )
    assert _cos(twice, duplicate) > 0.45
    assert _cos(twice, weather) < 0.15 and _cos(duplicate, weather) < 0.15


def test_padding_never_changes_a_vector(encoder: SentenceEncoder) -> None:
    """Pooling covers the attention mask only: alone or beside a long text, a message gets the same vector."""
    alone = encoder.sentence_vectors(["reset my password"])[0]
    batched = encoder.sentence_vectors(["reset my password", "word " * 100])[0]
    assert np.linalg.norm(alone) == pytest.approx(1.0, abs=1e-5)
    # bfloat16 matrices round differently with the batch's shape on CPUs without native bfloat16 (seen: 4.7e-4 on an
    # AMD EPYC, under 1e-4 on a Xeon with AVX-512 BF16); pooling the hundred padding positions would move it far more.
    assert np.abs(alone - batched).max() < 2e-3
    assert _cos(alone, batched) > 0.9999


def test_long_and_empty_texts_are_encoded(encoder: SentenceEncoder) -> None:
    ids, _ = encoder.tokenize(["invoice " * 1000, ""])
    assert ids.shape == (2, 128)
    vectors = encoder.sentence_vectors(["invoice " * 1000, ""])
    assert vectors.shape == (2, DIMENSIONS) and np.isfinite(vectors).all()



class _RecordingTokenizer:
    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.seen: list[int] = []

    def encode_batch(self, texts: list[str]) -> object:
        self.seen += [len(t) for t in texts]
        return self.inner.encode_batch(texts)  # type: ignore[attr-defined]


def test_the_tokenizer_never_reads_past_what_128_pieces_need(encoder: SentenceEncoder) -> None:
    """Its cost grows with the whole text (1 MB of CJK: seconds): a huge message is cut first."""
    recording = _RecordingTokenizer(encoder.tokenizer)
    hostile = SentenceEncoder.__new__(SentenceEncoder)
    hostile.__dict__.update(encoder.__dict__, tokenizer=recording)
    vector = hostile.sentence_vectors(["请帮我重置密码" * 150_000])[0]
    assert recording.seen == [MAX_CHARS] and np.isfinite(vector).all()


def test_the_encoder_reads_emails_and_ids_as_what_they_are() -> None:
    assert text_for_meaning("it's ana.ortiz@example, invoice INV-2024-0077 for $99.50") == (
        "it's email address invoice number for number"
    )
    assert text_for_meaning("reset my password") == "reset my password"
    assert text_for_meaning("a" * 200_000 + "@" + "9" * 200_000) == "email address"  # one word, one linear pass


def _featurized(texts: list[str], intents: list[str] | None = None) -> list[Message]:
    context = ExecutionContext(graph_schema=None, node_name="featurizer")  # type: ignore[arg-type]
    labels = intents or [None] * len(texts)
    messages = [Message(data={TEXT: t, **({INTENT: i} if i else {})}) for t, i in zip(texts, labels, strict=True)]
    WhitespaceTokenizer(WhitespaceTokenizer.get_default_config()).process(messages)
    MeaningFeaturizer(MeaningFeaturizer.get_default_config(), context).process(messages)
    return messages


def test_featurizer_adds_the_sentence_vector_of_the_text() -> None:
    (message,) = _featurized(["unrecognised charge on my invoice"])
    sequence, sentence = message.get_dense_features(TEXT)
    assert sequence is None and sentence is not None and sentence.features.shape == (1, DIMENSIONS)
    expected = SentenceEncoder.load().sentence_vectors(["unrecognised charge on my invoice"])[0]
    assert np.allclose(sentence.features[0], expected, atol=1e-5)


def test_classifier_learns_stores_and_reloads_its_weights(tmp_path: Path) -> None:
    texts = ["i forgot my password", "reset my password please", "cant remember my login password",
             "send me my invoice", "where is my bill for march", "download the latest invoice"]
    intents = ["reset_password"] * 3 + ["billing_invoice"] * 3
    storage = LocalModelStorage(tmp_path)
    resource = Resource("classifier")
    context = ExecutionContext(graph_schema=None, node_name="classifier")  # type: ignore[arg-type]
    trained = MeaningIntentClassifier.create({}, storage, resource, context)
    trained.train(TrainingData(_featurized(texts, intents)))

    loaded = MeaningIntentClassifier.load({}, storage, resource, context)
    probe = _featurized(["my password does not work, can I get a new one", "the bill from last month"])
    empty = Message(data={TEXT: ""})
    loaded.process([*probe, empty])
    assert [m.get(INTENT)["name"] for m in probe] == ["reset_password", "billing_invoice"]
    # Parsing scores the same stacked rows the weights were trained on.
    stacked = np.asarray(loaded.features(probe) @ loaded.weights.T) + loaded.bias  # type: ignore[union-attr,operator]
    expected = np.exp(stacked - stacked.max(axis=1, keepdims=True))
    assert np.allclose(loaded.probabilities(probe), expected / expected.sum(axis=1, keepdims=True), atol=1e-5)
    assert sum(r["confidence"] for r in probe[0].get("intent_ranking")) == pytest.approx(1.0, abs=1e-5)
    assert empty.get(INTENT) == {"name": None, "confidence": 0.0} and empty.get("intent_ranking") == []
    assert not list(tmp_path.rglob("*.pkl")) and list(tmp_path.rglob("weights.npz"))
