"""Shared helpers: tiny random DACT-BERT models (HF-style tiny configs) and a tiny tokenizer."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# the ONNX Runtime engine's graphs of the tests' models (and of the apps they start) go to a folder of this run
os.environ.setdefault("DACT_CACHE_DIR", tempfile.mkdtemp(prefix="dact-test-cache-"))

from dact_core import DactBertConfig, DactBertForSequenceClassification  # noqa: E402

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
WORDS = (
    "the a film movie good bad great awful not very funny boring loved hated plot actors but and "
    "it is was story dull brilliant mess charming slow fast world sports business science team"
).split()


def tiny_config(num_labels: int = 2, num_layers: int = 4, **kwargs) -> DactBertConfig:
    settings = dict(
        vocab_size=len(WORDS) + 5,
        hidden_size=32,
        num_hidden_layers=num_layers,
        num_attention_heads=4,
        intermediate_size=37,
        max_position_embeddings=64,
        num_labels=num_labels,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    settings.update(kwargs)
    return DactBertConfig(**settings)


def tiny_model(seed: int = 0, num_labels: int = 2, num_layers: int = 4, **kwargs) -> DactBertForSequenceClassification:
    """A random model whose DACT modules are sharpened so that examples halt at many different layers."""
    torch.manual_seed(seed)
    model = DactBertForSequenceClassification(tiny_config(num_labels, num_layers, **kwargs)).eval()
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.dact:
            module.answer.weight.mul_(float(torch.empty(1).uniform_(5, 60, generator=gen)))
            module.halting.weight.mul_(float(torch.empty(1).uniform_(5, 40, generator=gen)))
            module.halting.bias.fill_(float(torch.empty(1).uniform_(-3, 3, generator=gen)))
    return model


def random_batch(seed: int, batch: int, max_len: int = 20, vocab: int = len(WORDS) + 5):
    """Right-padded random ids with random lengths (>= 3: [CLS] w [SEP])."""
    gen = torch.Generator().manual_seed(seed)
    lengths = torch.randint(3, max_len + 1, (batch,), generator=gen)
    ids = torch.randint(5, vocab, (batch, int(lengths.max())), generator=gen)
    mask = (torch.arange(ids.shape[1])[None, :] < lengths[:, None]).long()
    ids[:, 0] = 2
    ids = ids * mask
    return ids, mask


@pytest.fixture
def tiny_tokenizer(tmp_path):
    from transformers import BertTokenizerFast

    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]) + "\n")
    return BertTokenizerFast(vocab=str(vocab), do_lower_case=True, model_max_length=64)


@pytest.fixture
def tiny_backbone(tmp_path, tiny_tokenizer):
    """A folder holding a tiny random BERT checkpoint and its tokenizer, usable as --backbone."""
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    cfg = BertConfig(**{k: v for k, v in tiny_config().to_dict().items() if k in BertConfig.__dataclass_fields__})
    folder = tmp_path / "tiny-bert"
    BertModel(cfg).save_pretrained(folder)
    tiny_tokenizer.save_pretrained(folder)
    return folder


def requires_shared_data(*parts: str):
    return pytest.mark.skipif(not SHARED_DATA.joinpath(*parts).exists(), reason="../shared/data is absent")


@pytest.fixture
def tiny_model_dir(tmp_path, tiny_tokenizer):
    """A saved tiny DACT-BERT with named labels and its tokenizer: a stand-in for a trained model."""
    model = tiny_model(3, num_labels=2, id2label={0: "negative", 1: "positive"},
                       label2id={"negative": 0, "positive": 1})
    folder = tmp_path / "tiny-dact"
    model.save_pretrained(folder)
    tiny_tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture
def tiny_token_models_dir(tmp_path, tiny_backbone, tiny_tokenizer):
    """A folder with compact (dact export) tiny AdapLeR and token-gate models that do remove tokens."""
    import json

    from dact_core.export import export_model
    from dact_core.loading import new_model

    labels = dict(num_labels=2, id2label={0: "negative", 1: "positive"}, label2id={"negative": 0, "positive": 1})
    folder = tmp_path / "models"
    for name, method, extra in (("adapler", "adapler", {"eta_init": 0.9}), ("gates", "token-gates", {})):
        torch.manual_seed(0)
        model = new_model(method, str(tiny_backbone), **labels, **extra)
        with torch.no_grad():
            if name == "adapler":
                for cp in model.predictors.values():
                    cp.score.weight.mul_(200)  # sharp scores, so some tokens fall under eta / n
            else:
                model.gate_logits[:, 3:] = -5.0  # after layer 1 keep the 3 most significant tokens
        raw = tmp_path / f"raw-{name}"
        model.save_pretrained(raw)
        tiny_tokenizer.save_pretrained(raw)
        (raw / "training_config.json").write_text(json.dumps({"train_config": {"backbone": str(tiny_backbone)}}))
        export_model(raw, folder / name)
    return folder
