"""What one encoder layer costs at batch 1 as the number of tokens shrinks: why removing tokens pays less in
wall-clock than in FLOPs on a CPU.

Times the model's first layer on random hidden states of each length in turn (the project's interleaved timer,
2 threads) and prints milliseconds per call next to the layer's FLOPs, both relative to the longest length.
At a few tokens a layer's matrix products still read every weight once, so their time stops shrinking long
before their FLOPs do.

    python scripts/layer_time_by_tokens.py [--model assets/models/adapler-agnews] [--lengths 1 2 4 7 14 26 50]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dact_core.loading import load_model  # noqa: E402
from dact_core.timing import interleaved_times, torch_threads  # noqa: E402


def layer_flops(config, tokens: int) -> float:
    """Multiply-adds x 2 of one BERT layer on `tokens` tokens: the four attention projections, the two
    feed-forward products, and the attention scores and weighted values."""
    hidden, inner = config.hidden_size, config.intermediate_size
    return 2 * tokens * (4 * hidden * hidden + 2 * hidden * inner) + 2 * 2 * tokens * tokens * hidden


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(ROOT / "assets" / "models" / "adapler-agnews"))
    parser.add_argument("--lengths", type=int, nargs="+", default=[1, 2, 4, 7, 14, 26, 50])
    parser.add_argument("--calls", type=int, default=200, help="timed calls per length and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--timer-block", type=int, default=10, help="calls each length runs in its turn")
    args = parser.parse_args()
    if min(args.lengths) < 1:
        parser.error("--lengths must be positive")
    model, _ = load_model(args.model, "cpu")
    layer = model.bert.encoder.layer[0]
    generator = torch.Generator().manual_seed(0)
    states = [torch.randn(1, n, model.config.hidden_size, generator=generator) for n in args.lengths]  # (1, T, H)
    paths = [lambda _, h=h: layer(h, None) for h in states]
    with torch_threads(args.threads):
        seconds = interleaved_times(paths, list(range(args.calls)), rounds=args.rounds, desc="layer by length",
                                    block=args.timer_block)
    ms = seconds.mean(axis=(1, 2)) * 1e3  # (L,)
    longest = max(range(len(args.lengths)), key=args.lengths.__getitem__)
    flops = [layer_flops(model.config, n) for n in args.lengths]
    print(f"one layer of {args.model} at batch 1, {args.threads} threads, {args.rounds} x {args.calls} calls per length, "
          f"timer block {args.timer_block}")
    print(f"{'tokens':>7} {'ms':>8} {'time vs ' + str(args.lengths[longest]):>14} {'FLOPs vs ' + str(args.lengths[longest]):>15}")
    for n, t, f in zip(args.lengths, ms, flops):
        print(f"{n:>7} {t:>8.3f} {t / ms[longest]:>14.2f} {f / flops[longest]:>15.2f}")


if __name__ == "__main__":
    main()
