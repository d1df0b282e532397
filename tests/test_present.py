"""The Present page's opening example is worth presenting: the shipped model runs several layers on it."""

import sys
from pathlib import Path

import pytest

from dact_core.inspector import inspector_for
from dact_core.loading import DEFAULT_MODEL_DIR, load_model

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "app"))
import presenting  # noqa: E402


@pytest.mark.slow
@pytest.mark.skipif(not DEFAULT_MODEL_DIR.exists(), reason="no shipped model")
def test_opening_example_runs_at_least_3_layers_on_the_shipped_model():
    inspector = inspector_for(*load_model(str(DEFAULT_MODEL_DIR), "cpu"))
    example = presenting.opening_example(inspector.label_names)
    assert example in (ROOT / "assets" / "data" / "sst2-dev.tsv").read_text().replace(" ,", ",").replace(" .", ".")
    trace = inspector.trace(example, bound="tight", relaxation=1.0)
    assert trace.guarantee_holds and trace.exit_layer >= 3
    assert trace.prediction == trace.full_depth_prediction


def test_a_typed_deck_is_one_sentence_per_non_empty_line():
    assert presenting.sentences("  the plot was dull \n\n a very funny film\n") == ["the plot was dull",
                                                                                     "a very funny film"]
    assert presenting.sentences(" \n ") == []


def _metric(at, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def test_a_deck_steps_on_to_the_next_sentence_and_back(tiny_model_dir, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("DACT_MODEL", str(tiny_model_dir))
    at = AppTest.from_file(str(ROOT / "app" / "main.py"), default_timeout=120)
    at.run()
    at.switch_page("views/present.py").run()
    at.text_area(key="present_text").set_value("the plot was dull\n\n a very funny film \n").run()
    assert not at.exception and _metric(at, "Sentence") == "1 of 2" and _metric(at, "Layer") == "1 of 4"
    for _ in range(4):
        at.button(key="present_next").click().run()
    assert _metric(at, "Sentence") == "2 of 2" and _metric(at, "Layer") == "1 of 4"
    assert at.query_params["text"] in ("a very funny film", ["a very funny film"])
    assert list(at.query_params["deck"]) == ["the plot was dull", "a very funny film"]
    at.button(key="present_prev").click().run()
    assert _metric(at, "Sentence") == "1 of 2" and _metric(at, "Layer") == "4 of 4"
    assert at.button(key="present_prev").disabled is False and at.button(key="present_next").disabled is False
