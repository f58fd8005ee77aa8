"""CPU benchmarks of the model: size, training step, decoding speed, grammar cost, vision tokens.

Usage: ``OMP_NUM_THREADS=1 .venv/bin/python experiments/bench_model.py [--quick]``
Each training measurement runs in a fresh subprocess so its peak RSS is its own. Prints Markdown.
Random weights and random images: speeds and sizes only, no accuracy.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SYSTEM = (192, 1024)  # a system at a 10 px staff space (grand staff ~ 160-190 px high)
PAGE = (1760, 1240)  # A4 at 150 dpi (staff space ~10.6 px)


def train_step(preset: str, h: int, w: int, batch: int, target: int) -> dict:
    import torch

    from omrformer.configuration import OmrformerConfig
    from omrformer.modeling.model import OmrformerModel

    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = OmrformerModel(OmrformerConfig.from_preset(preset)).train()
    enc = sum(p.numel() for p in model.encoder.parameters())
    total = sum(p.numel() for p in model.parameters())
    pixels = torch.rand(batch, 1, h, w)
    labels = torch.randint(3, model.config.vocab_size, (batch, target))
    model.config.grammar_losses = False  # random labels: only the network's cost is measured here
    times = []
    for _ in range(2):  # the first step pays one-off allocation costs
        t0 = time.perf_counter()
        model(pixel_values=pixels, labels=labels).loss.backward()
        times.append(time.perf_counter() - t0)
        model.zero_grad(set_to_none=True)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"params": total, "encoder": enc, "step_s": times[-1], "peak_rss_mb": rss}


class TimedProcessor:
    """Wraps a logits processor and adds up the time spent in it."""

    def __init__(self, inner) -> None:
        self.inner, self.seconds, self.calls = inner, 0.0, 0

    def __call__(self, input_ids, scores):
        t0 = time.perf_counter()
        out = self.inner(input_ids, scores)
        self.seconds += time.perf_counter() - t0
        self.calls += 1
        return out


def decode_bench(preset: str, steps: int) -> list[dict]:
    import torch

    from grammar.logits import GrammarLogitsProcessor
    from grammar.vocab import VOCAB
    from omrformer.configuration import OmrformerConfig
    from omrformer.modeling.model import OmrformerModel

    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = OmrformerModel(OmrformerConfig.from_preset(preset)).eval()
    pixels = torch.rand(1, 1, *SYSTEM)
    with torch.no_grad():
        t0 = time.perf_counter()
        enc = model.encode(pixels)
        enc_s = time.perf_counter() - t0
    rows = [{"mode": "encoder forward (one system)", "ms": 1000 * enc_s}]
    for name, beams, cache, grammar in [
        ("greedy, KV cache", 1, True, False),
        ("greedy, no cache", 1, False, False),
        ("beam 4, KV cache", 4, True, False),
        ("greedy, KV cache, grammar", 1, True, True),
        ("beam 4, KV cache, grammar", 4, True, True),
    ]:
        procs = [TimedProcessor(GrammarLogitsProcessor(vocab=VOCAB, max_length=steps + 1))] if grammar else []
        kwargs = dict(
            encoder_outputs=enc,
            max_length=steps + 1,
            num_beams=beams,
            do_sample=False,
            use_cache=cache,
            logits_processor=procs,
            renormalize_logits=grammar,
        )
        if not grammar:
            kwargs["min_length"] = steps + 1  # random weights may say <eos> at once; time full runs
        with torch.no_grad():
            t0 = time.perf_counter()
            out = model.generate(**kwargs)
            dt = time.perf_counter() - t0
        n = out.shape[1] - 1
        row = {"mode": name, "tokens": n, "ms_per_step": 1000 * dt / n, "tok_per_s": n / dt}
        if grammar:
            p = procs[0]
            row["grammar_ms_per_step"] = 1000 * p.seconds / max(p.calls, 1)
            row["grammar_share_of_model_step"] = p.seconds / max(dt - p.seconds, 1e-9)
        rows.append(row)
    return rows


def vision_tokens() -> list[dict]:
    rows = []
    for factor in (1, 4, 16):
        s = math.isqrt(factor) * 8
        for name, (h, w) in (("system 192x1024", SYSTEM), ("page 1760x1240", PAGE)):
            rows.append({"factor": factor, "image": name, "tokens": math.ceil(h / s) * math.ceil(w / s)})
    return rows


def measured_fixture_tokens() -> list[dict]:
    import torch

    from omrformer.configuration import OmrformerConfig
    from omrformer.modeling.model import OmrformerModel
    from omrformer.processor import OmrformerProcessor

    proc = OmrformerProcessor()
    rows = []
    for name in ("grand_staff", "page_two_parts"):
        prepared = proc.prepare(ROOT / "tests" / "fixtures" / "staff" / f"{name}.png")
        batch = proc.collate([prepared])
        n_sys = max(1, len(prepared.layout.systems))
        for factor in (1, 4, 16):
            model = OmrformerModel(OmrformerConfig.from_preset("tiny", compress_factor=factor)).eval()
            with torch.no_grad():
                n = model.encode(batch["pixel_values"]).last_hidden_state.shape[1]
            rows.append(
                {
                    "image": f"{name} {tuple(prepared.ink.shape)}",
                    "factor": factor,
                    "tokens": n,
                    "per_system": n / n_sys,
                }
            )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="skip the page-size training steps")
    ap.add_argument("--one", nargs=5, metavar=("PRESET", "H", "W", "BATCH", "TARGET"), help=argparse.SUPPRESS)
    ap.add_argument("--steps", type=int, default=64, help="decoding steps per measurement")
    args = ap.parse_args()
    if args.one:
        p, h, w, b, t = args.one
        print(json.dumps(train_step(p, int(h), int(w), int(b), int(t))))
        return
    print("## Training step (forward + backward, CPU, 1 thread, fp32)\n")
    print("| preset | params | encoder params | image | batch | target tokens | step s | peak RSS MB |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    runs = [(p, *SYSTEM, 4, 256) for p in ("tiny", "small", "base")]
    if not args.quick:
        runs += [("tiny", *PAGE, 1, 1024), ("small", *PAGE, 1, 1024)]
    for p, h, w, b, t in runs:
        cmd = [sys.executable, __file__, "--one", p, str(h), str(w), str(b), str(t)]
        res = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
        if res.returncode:
            print(f"| {p} | failed: {res.stderr.strip().splitlines()[-1]} |")
            continue
        r = json.loads(res.stdout.strip().splitlines()[-1])
        print(
            f"| {p} | {r['params'] / 1e6:.1f}M | {r['encoder'] / 1e6:.1f}M | {h}x{w} | {b} | {t} "
            f"| {r['step_s']:.2f} | {r['peak_rss_mb']:.0f} |"
        )
    print("\n## Decoding one system image (small, CPU, 1 thread)\n")
    print("| mode | tokens | ms/step | tokens/s | grammar ms/step | grammar / model step |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in decode_bench("small", args.steps):
        if "tokens" not in r:
            print(f"| {r['mode']} | | {r['ms']:.0f} ms | | | |")
            continue
        g = (
            f"{r['grammar_ms_per_step']:.2f} | {100 * r['grammar_share_of_model_step']:.0f}%"
            if "grammar_ms_per_step" in r
            else " | "
        )
        print(f"| {r['mode']} | {r['tokens']} | {r['ms_per_step']:.1f} | {r['tok_per_s']:.0f} | {g} |")
    print("\n## Vision tokens per image (patch 8, compressor factor)\n")
    print("| factor | image | tokens |")
    print("| --- | --- | --- |")
    for r in vision_tokens():
        print(f"| {r['factor']} | {r['image']} | {r['tokens']} |")
    print("\nMeasured through the processor (rescaled to a 10 px staff space) and the encoder:\n")
    print("| image (prepared size) | factor | tokens | tokens per system |")
    print("| --- | --- | --- | --- |")
    for r in measured_fixture_tokens():
        print(f"| {r['image']} | {r['factor']} | {r['tokens']} | {r['per_system']:.0f} |")


if __name__ == "__main__":
    main()
