"""Labels written into the bot's training data: normal Rasa YAML, deduplicated, never a hold-out, never broken.

Every test writes into a copy of the checkout's ``data/nlu``, ``domain.yml`` and ``tests/nlu`` (never the checkout).
"""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml

from bot.launcher import ROOT
from handoff.domain.training import LabelError, clean_example
from handoff.storage.training_data import domain_intents, nlu_examples, write_label
from tests.handoff.test_review import read_with_rasa


def label(project: Path, text: str, intent: str, new: bool = False) -> dict[str, object]:
    return write_label(project, clean_example(text), intent, new_intent=new).as_dict()


def examples(path: Path, intent: str) -> list[str]:
    return nlu_examples(path)[intent]


def test_an_example_is_appended_under_its_intents_block_as_one_diff_line(project: Path) -> None:
    path = project / "data" / "nlu" / "billing.yml"
    before = path.read_text()
    written = label(project, "  could you resend the receipt from my june payment  ", "billing_invoice")
    assert written == {"intent": "billing_invoice", "file": "data/nlu/billing.yml", "added": True, "new_intent": False}
    after = path.read_text()
    assert examples(path, "billing_invoice")[-1] == "could you resend the receipt from my june payment"
    # One line added, everything else (comments, order, the other intents) as it was.
    diff = subprocess.run(["diff", "-u", "-", str(path)], input=before, capture_output=True, text=True).stdout
    added = [line for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")]
    removed = [line for line in diff.splitlines() if line.startswith("-") and not line.startswith("---")]
    assert added == ["+    - could you resend the receipt from my june payment"] and removed == []
    assert len(after.splitlines()) == len(before.splitlines()) + 1


def test_a_known_example_is_not_written_twice_whatever_its_case_and_spaces(project: Path) -> None:
    path = project / "data" / "nlu" / "billing.yml"
    first = examples(path, "billing_invoice")[0]
    before = path.read_text()
    assert label(project, f"  {first.upper()}  ", "billing_invoice")["added"] is False
    assert path.read_text() == before
    label(project, "my invoice total looks odd this month", "billing_invoice")
    assert label(project, "My  Invoice total looks ODD this month", "billing_invoice")["added"] is False
    assert examples(path, "billing_invoice").count("my invoice total looks odd this month") == 1


def test_an_example_of_another_intent_is_refused_with_where_it_is(project: Path) -> None:
    first = examples(project / "data" / "nlu" / "billing.yml", "billing_invoice")[0]
    with pytest.raises(LabelError, match=r"already an example of billing_invoice in data/nlu/billing\.yml"):
        label(project, first, "billing_refund")


def test_a_new_intent_gets_its_own_file_and_a_line_in_the_domain(project: Path) -> None:
    domain_before = (project / "domain.yml").read_text()
    written = label(project, "do you have a student discount", "discount_question", new=True)
    assert written == {"intent": "discount_question", "file": "data/nlu/discount_question.yml", "added": True,
                       "new_intent": True}
    data = yaml.safe_load((project / "data" / "nlu" / "discount_question.yml").read_text())
    assert data["nlu"] == [{"intent": "discount_question", "examples": "- do you have a student discount\n"}]
    assert domain_intents(project)[-1] == "discount_question"
    assert domain_intents(project)[:-1] == yaml.safe_load(domain_before)["intents"]
    # The rest of domain.yml is untouched (slots, responses...).
    assert yaml.safe_load((project / "domain.yml").read_text())["responses"] == yaml.safe_load(domain_before)["responses"]
    # A second example goes under the new intent's block; the name is now taken.
    label(project, "is there a discount for nonprofits", "discount_question")
    assert examples(project / "data" / "nlu" / "discount_question.yml", "discount_question") == [
        "do you have a student discount", "is there a discount for nonprofits"]
    with pytest.raises(LabelError, match="already an intent"):
        label(project, "any discounts for teachers", "discount_question", new=True)


def test_an_unknown_intent_is_refused(project: Path) -> None:
    with pytest.raises(LabelError, match=r"not an intent of domain\.yml"):
        label(project, "any discounts for teachers", "discounts")


def test_a_hold_out_message_is_never_trained_on(project: Path) -> None:
    holdout = yaml.safe_load((project / "tests" / "nlu" / "holdout.yml").read_text())["nlu"][0]
    message = holdout["examples"].splitlines()[0][2:]
    before = {p.name: p.read_text() for p in (project / "data" / "nlu").iterdir()}
    with pytest.raises(LabelError, match="hold-out"):
        label(project, f" {message.upper()} ", str(holdout["intent"]))
    assert {p.name: p.read_text() for p in (project / "data" / "nlu").iterdir()} == before


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("my card\nwas charged twice", "one line"),
        ("my card\r\nwas charged twice", "one line"),
        ("charged by [acme](company) twice", "square brackets"),
        ('charged [twice]{"entity": "amount"}', "square brackets"),
        ("a" * 10_240, "at most 300 characters"),
        ("   ", "empty"),
        ("bell \x07 ringing", "control"),
    ],
)
def test_hostile_text_is_refused_with_a_clear_reason(project: Path, text: str, reason: str) -> None:
    with pytest.raises(LabelError, match=reason):
        label(project, text, "billing_invoice")


def test_yaml_special_and_non_ascii_text_reads_back_exactly(project: Path) -> None:
    texts = [
        "¿dónde está mi factura? — 請求書はどこ 🧾",
        "# not a comment: my invoice",
        "- key: value | > & * ! % @ ` 'quoted' \"double\"",
        "examples: | my invoice",
    ]
    for text in texts:
        label(project, text, "billing_invoice")
    assert examples(project / "data" / "nlu" / "billing.yml", "billing_invoice")[-len(texts):] == texts


def test_rasas_own_reader_loads_what_was_written(project: Path) -> None:
    texts = ["¿dónde está mi factura? 🧾", "examples: | my invoice", "- still my invoice, with a dash"]
    for text in texts:
        label(project, text, "billing_invoice")
    label(project, "do you have a student discount", "discount_question", new=True)
    intents, read = read_with_rasa(project / "data" / "nlu" / "billing.yml")
    assert "billing_invoice" in intents and set(texts) <= set(read)
    intents, read = read_with_rasa(project / "data" / "nlu" / "discount_question.yml")
    assert (intents, read) == ({"discount_question"}, ["do you have a student discount"])


def test_concurrent_writers_lose_nothing(project: Path) -> None:
    texts = [f"invoice question number {n} from the load test" for n in range(24)]
    errors: list[BaseException] = []

    def write(text: str) -> None:
        try:
            label(project, text, "billing_invoice")
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(t,)) for t in texts]
    # And a second process writing into the same folder at the same time (the flock is across processes).
    other = subprocess.Popen(
        [sys.executable, "-c",
         "import sys; from pathlib import Path; from handoff.storage.training_data import write_label\n"
         "for n in range(12): write_label(Path(sys.argv[1]), f'refund question {n} from another process', "
         "'billing_refund', new_intent=False)", str(project)],
        cwd=ROOT,
    )
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert other.wait(60) == 0
    assert not errors, errors
    got = nlu_examples(project / "data" / "nlu" / "billing.yml")
    assert sorted(e for e in got["billing_invoice"] if "load test" in e) == sorted(texts)
    assert len([e for e in got["billing_refund"] if "another process" in e]) == 12
