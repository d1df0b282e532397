"""Where a model's batch-1 time goes, next to the full-depth reference: torch.profiler on the CPU.

Runs each model's own inference (`methods.infer`) on the same sentences one at a time, the two in
turn on each sentence under one profiler, and prints milliseconds per call by kind of work: the
encoder's matrix products, attention, layer norms and activations, and everything else (the method's own small operations: pooling,
halting units and the bound for DACT-BERT; contribution predictors, softmax and token gathering for
AdapLeR). Profiling adds its own overhead: compare the rows, not the totals with `dact bench`.

    python scripts/profile_batch1.py --model assets/models/adapler-agnews --reference runs/agnews/dact/reference \
        --data ../shared/data/agnews/test.tsv
"""

from __future__ import annotations

import argparse
import os
from collections import defaultdict

import torch
from torch.profiler import ProfilerActivity, profile

from dact_core.bench import latency_texts
from dact_core.loading import load_model
from dact_core.methods import infer
from dact_core.timing import torch_threads

os.environ.setdefault("HF_HUB_OFFLINE", "1")
KINDS = {  # profiler op name -> kind of work
    "aten::addmm": "matrix products", "aten::mm": "matrix products", "aten::bmm": "matrix products",
    "aten::_scaled_dot_product_flash_attention_for_cpu": "attention", "aten::native_layer_norm": "layer norm",
    "aten::gelu": "activations", "aten::tanh": "activations",
}


def profile_pair(models: dict, tokenizer, texts: list[str]) -> dict[str, dict[str, float]]:
    """Milliseconds per call by kind of work (self time of each operation), for each model; the models
    run in turn on each sentence under one profiler, so a slow spell of the machine hits them alike."""
    from torch.autograd import profiler as autograd_profiler

    inputs = [tokenizer(t, truncation=True, max_length=128, return_tensors="pt") for t in texts]
    with torch.no_grad():
        for enc in inputs[:5]:
            for model in models.values():
                infer(model, dict(enc))
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for enc in inputs:
                for name, model in models.items():
                    with autograd_profiler.record_function(name):
                        infer(model, dict(enc))
    table = {name: defaultdict(float) for name in models}
    for event in prof.events():
        owner = event
        while owner is not None and owner.name not in models:
            owner = owner.cpu_parent
        if owner is not None and event is not owner:
            table[owner.name][KINDS.get(event.name, "everything else")] += event.self_cpu_time_total / 1000 / len(inputs)
    return {name: dict(row) for name, row in table.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="the model to profile (default: the shipped DACT-BERT)")
    parser.add_argument("--reference", required=True, help="the full-depth reference")
    parser.add_argument("--data", default="../shared/data/sst2/dev.tsv")
    parser.add_argument("--examples", type=int, default=100)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    model, tokenizer = load_model(args.model, "cpu")
    reference, _ = load_model(args.reference, "cpu")
    sample = latency_texts(args.data, model, args.examples)
    with torch_threads(args.threads):
        rows = profile_pair({"reference": reference, "model": model}, tokenizer, sample)
    kinds = ["matrix products", "attention", "layer norm", "activations", "everything else"]
    print(f"ms per call at batch 1 ({len(sample)} examples of {args.data}, {args.threads} threads, under the profiler)")
    print(f"{'':18}" + "".join(f"{k:>17}" for k in kinds) + f"{'total':>10}")
    for name, row in rows.items():
        print(f"{name:18}" + "".join(f"{row.get(k, 0.0):>17.2f}" for k in kinds) + f"{sum(row.values()):>10.2f}")


if __name__ == "__main__":
    main()
