"""Learning curves at an equal CPU budget: recipe variants trained on the same shards (issue 9).

Train one variant (one process; run two side by side with ``OMP_NUM_THREADS=1`` each)::

    OMP_NUM_THREADS=1 .venv/bin/python experiments/learning_curves.py train --variant baseline \
        --train data/ck/train --heldout data/heldout --minutes 15 --eval-every 3 --out runs/curves

Report (table + PNG) from the JSONL files the runs wrote::

    .venv/bin/python experiments/learning_curves.py report --out runs/curves \
        --png docs/img/learning_curves.png --md runs/curves/table.md

Every variant starts from the same seed, reads the same training shards and is evaluated on the same
held-out generated staves (a synth seed never used for training) every ``--eval-every`` minutes of
*training* time (the clock stops while evaluating): greedy decoding (bounded by the label length + 8)
gives SER and pitch / duration recall (``omrformer.evaluation.metrics``); a teacher-forced pass
gives the attention hit rate (share of anchored tokens whose mean attention over the guided heads -
the first ``guided_heads`` heads of the last ``guided_layers`` decoder layers - peaks within one
memory token of the anchor; measured for unguided variants on the same heads) and, for variants
with dense heads, the staff-position accuracy on noteheads. The data is loaded in the training
process (no worker) so each run uses one core.

Variants (model size of experiments/configs/cpu_checkpoint.yaml):
  baseline   the bundled checkpoint's recipe: uncropped, unbucketed, step cosine over 3000 steps
  throughput staff crop + width buckets + cosine over the time budget (fp32: bf16 is slower here)
  dense      throughput + dense encoder heads
  guided     throughput + guided cross-attention
  conv       throughput + conv stem
  all        throughput + dense heads + guided attention + conv stem (experiments/configs/staff_reader.yaml)
  pos2d      all with a plain 2D positional encoding instead of the staff-aligned one
  posnone    all without an encoder positional encoding
  c1 / c16   all with compressor factor 1 / 16 (all has 4)
The CRNN-CTC baseline (experiments/baselines/crnn_ctc.py) writes rows of the same format into the
same folder; ``report`` tabulates and plots every ``*.jsonl`` there.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MODEL = dict(local_dim=64, local_layers=1, local_heads=2, window_size=8, compress_factor=4, d_model=192,
             encoder_layers=2, encoder_heads=4, decoder_layers=3, decoder_heads=4, ffn_mult=3,
             grammar_losses=False, max_target_length=512)
THROUGHPUT = {"crop": True, "bucket": True, "time_cosine": True}
VARIANTS: dict[str, dict[str, Any]] = {
    "baseline": {"crop": False, "bucket": False, "time_cosine": False},
    "throughput": {**THROUGHPUT},
    "dense": {**THROUGHPUT, "dense_heads": True},
    "guided": {**THROUGHPUT, "guided_attention_weight": 1.0},
    "conv": {**THROUGHPUT, "stem": "conv"},
    "all": {**THROUGHPUT, "dense_heads": True, "guided_attention_weight": 1.0, "stem": "conv"},
}
ALL = VARIANTS["all"]
# Issue 13 part 2, the plain-ViT questions, each a change of "all" alone: does the staff-aligned
# positional encoding help (plain 2D, none), and how many vision tokens does a staff need (the
# compressor merges 1, 4 = "all", or 16 tokens into one)?
VARIANTS.update({
    "pos2d": {**ALL, "positional": "2d"},
    "posnone": {**ALL, "positional": "none"},
    "c1": {**ALL, "compress_factor": 1},
    "c16": {**ALL, "compress_factor": 16},
})
MODEL_KEYS = ("dense_heads", "guided_attention_weight", "stem", "label_smoothing", "positional", "compress_factor")


def build(variant: dict[str, Any], init_from: str | None = None, freeze: list[str] | None = None) -> Any:
    """The variant's model from scratch, or ``init_from``'s weights (its own config: the variant then
    sets only the data recipe); ``freeze`` names modules not to train (e.g. ``encoder``)."""
    import torch

    from omrformer.training.module import OmrformerLightning

    torch.manual_seed(3)
    overrides = {**MODEL, **{k: v for k, v in variant.items() if k in MODEL_KEYS}}
    return OmrformerLightning(preset="small", config_overrides=overrides, max_target_length=512,
                              init_from=init_from, freeze=freeze or None)


def stream(shards: list[Path], variant: dict[str, Any], loop: bool, processor: Any, batch: int) -> Any:
    from omrformer.training.data import ShardStream

    geometry = True  # anchors for the losses (if on) and for the evaluation
    return ShardStream(shards, max_length=512, loop=loop, shuffle_buffer=64 if loop else 0, seed=3,
                       crop=variant["crop"], crop_jitter=0.5 if loop else 0.0, geometry=geometry,
                       processor=processor, bucket_size=batch if (variant["bucket"] and loop) else 0)


def batches(ds: Any, bucketed: bool, batch: int) -> Any:
    group: list[dict[str, Any]] = []
    for item in ds:
        if bucketed:
            yield item
            continue
        group.append(item)
        if len(group) == batch:
            yield group
            group = []
    if group:
        yield group


def evaluate(module: Any, heldout: list[list[dict[str, Any]]], collate: Any) -> dict[str, float]:
    import torch

    from grammar.vocab import VOCAB
    from omrformer.evaluation.metrics import TokenMetrics
    from omrformer.modeling.geometry import attention_hit_rate, dense_losses, record_cross_attention

    model = module.model
    model.eval()
    metrics = TokenMetrics()
    hits, anchored, pos_acc, pos_n = 0.0, 0, 0.0, 0
    with torch.no_grad():
        for group in heldout:
            batch = collate(group)
            labels = batch["labels"]
            inputs = {k: batch[k] for k in ("pixel_values", "pixel_mask", "patch_coords")}
            enc = model.encode(**inputs)
            with record_cross_attention(model, model.config) as rec:
                model(encoder_outputs=enc, labels=labels)
                att = rec.mean_attention()
            anchors = batch.get("token_anchors")
            if att is not None and anchors is not None:
                t = min(att.shape[1], anchors.shape[1])
                n = int((~torch.isnan(anchors[:, :t, 0])).sum())
                if n:
                    hits += float(attention_hit_rate(att[:, :t], anchors[:, :t], enc.memory_positions)) * n
                    anchored += n
            if model.encoder.dense_heads is not None and "symbol_points" in batch:
                d = dense_losses(model.encoder.dense_heads, enc.last_hidden_state, batch["symbol_points"],
                                 enc.memory_positions, enc.memory_mask)
                if "acc_dense_staff_pos" in d:
                    pts = batch["symbol_points"]
                    k = int(((pts[..., 2] == 1) & (pts[..., 3] >= 0)).sum())
                    pos_acc += float(d["acc_dense_staff_pos"]) * k
                    pos_n += k
            limit = min(labels.shape[1] + 8, model.config.max_target_length)
            pred = model.generate(**inputs, max_length=limit, do_sample=False, num_beams=1)
            for p, ref in zip(pred.tolist(), labels.tolist(), strict=True):
                metrics.update(VOCAB.decode(p), VOCAB.decode([i for i in ref if i >= 0]))
    model.train()
    table = metrics.class_table()
    return {
        "ser": float(metrics.ser if metrics.ser is not None else float("nan")),
        "pitch_recall": float(table["pitch"]["recall"] or 0.0),
        "duration_recall": float(table["duration"]["recall"] or 0.0),
        "attention_hit": hits / anchored if anchored else float("nan"),
        "staff_pos_acc": pos_acc / pos_n if pos_n else float("nan"),
    }


def train(args: argparse.Namespace) -> None:
    import cv2
    import torch

    from omrformer import OmrformerProcessor
    from omrformer.training.collate import Collator
    from omrformer.training.data import resolve_shards

    torch.set_num_threads(args.threads)
    # The budget counts the CPU seconds this process got (process_time), not the wall clock: on a
    # shared machine a variant slowed by another job gets the same compute as one run alone.
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    cv2.setNumThreads(1)
    variant = VARIANTS[args.variant]
    processor = OmrformerProcessor()
    collate = Collator(processor)
    module = build(variant, args.init_from, args.freeze)
    module.train()
    trained = [(n, p) for n, p in module.model.named_parameters() if p.requires_grad]
    decay = [p for n, p in trained if not (p.ndim < 2 or "embed" in n or "norm" in n)]
    no_decay = [p for n, p in trained if p.ndim < 2 or "embed" in n or "norm" in n]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.98))
    budget = args.minutes * 60.0
    heldout = list(batches(stream(resolve_shards(args.heldout), variant, False, processor, args.batch),
                           False, args.batch))[: args.heldout_batches]
    train_batches = batches(stream(resolve_shards(args.train), variant, True, processor, args.batch),
                            variant["bucket"], args.batch)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    name = args.name or args.variant
    log = (out / f"{name}.jsonl").open("w")
    elapsed, step, images = 0.0, 0, 0
    next_eval = args.eval_every * 60 if args.skip_initial_eval else 0.0
    while True:
        if elapsed >= next_eval or elapsed >= budget:
            t = time.perf_counter()
            row = {"variant": name, "minutes": elapsed / 60, "step": step, "images": images,
                   **evaluate(module, heldout, collate)}
            row["eval_s"] = time.perf_counter() - t
            log.write(json.dumps(row) + "\n")
            log.flush()
            print(json.dumps(row), flush=True)
            next_eval += args.eval_every * 60
            if elapsed >= budget:
                break
            next_eval = min(next_eval, budget)
        t0 = clock()
        batch = collate(next(train_batches))
        warm = args.warmup
        if step < warm:
            scale = (step + 1) / warm
        else:
            progress = elapsed / budget if variant["time_cosine"] else (step - warm) / (3000 - warm)
            scale = 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))
        for g in opt.param_groups:
            g["lr"] = args.lr * scale
        loss = module._step(batch)["loss"]
        loss.backward()
        torch.nn.utils.clip_grad_norm_(module.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        step += 1
        images += batch["labels"].shape[0]
        elapsed += clock() - t0
    if args.save:
        module.model.save_pretrained(out / f"{name}_model")


def report(args: argparse.Namespace) -> None:
    rows: dict[str, list[dict[str, Any]]] = {}
    for f in sorted(Path(args.out).glob("*.jsonl")):
        lines = [json.loads(x) for x in f.read_text().splitlines() if x.strip()]
        if lines:
            rows[lines[0]["variant"]] = lines
    keys = ("ser", "pitch_recall", "duration_recall", "attention_hit", "staff_pos_acc")
    md = ["| variant | minutes | steps | images | SER | pitch recall | duration recall | attention hit | "
          "staff-pos acc |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, lines in rows.items():
        for r in lines:
            vals = " | ".join("-" if math.isnan(r[k]) else f"{r[k]:.3f}" for k in keys)
            md.append(f"| {name} | {r['minutes']:.1f} | {r['step']} | {r['images']} | {vals} |")
    text = "\n".join(md)
    print(text)
    if args.md:
        Path(args.md).write_text(text + "\n")
    if args.png:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, len(keys), figsize=(4 * len(keys), 3.4))
        titles = ("SER (lower is better)", "pitch recall", "duration recall", "attention hit rate (TF)",
                  "dense staff-pos acc")
        for ax, k, title in zip(axes, keys, titles, strict=True):
            for name, lines in rows.items():
                xs = [r["minutes"] for r in lines if not math.isnan(r[k])]
                ys = [r[k] for r in lines if not math.isnan(r[k])]
                if xs:
                    ax.plot(xs, ys, marker="o", label=name)
            ax.set_title(title, fontsize=10)
            ax.set_xlabel("training minutes (1 thread)")
            ax.grid(alpha=0.3)
        axes[0].legend(fontsize=8)
        fig.tight_layout()
        Path(args.png).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(args.png, dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("--variant", choices=sorted(VARIANTS), required=True)
    t.add_argument("--train", nargs="+", required=True)
    t.add_argument("--heldout", nargs="+", required=True)
    t.add_argument("--minutes", type=float, default=15.0)
    t.add_argument("--eval-every", type=float, default=3.0)
    t.add_argument("--heldout-batches", type=int, default=6)
    t.add_argument("--batch", type=int, default=8)
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--threads", type=int, default=1)
    t.add_argument("--init-from", help="start from this model folder (fine-tuning) instead of scratch")
    t.add_argument("--freeze", nargs="*", default=[], help="modules not to train, e.g. encoder or decoder")
    t.add_argument("--warmup", type=int, default=150, help="warm-up steps of the learning rate")
    t.add_argument("--name", help="name of the rows and the JSONL file (default: the variant)")
    t.add_argument("--clock", choices=("cpu", "wall"), default="cpu",
                    help="what --minutes counts: CPU time of this process (default) or wall time")
    t.add_argument("--out", default="runs/curves")
    t.add_argument("--skip-initial-eval", action="store_true", help="no evaluation of the untrained model")
    t.add_argument("--save", action="store_true", help="save the final model (HF folder) beside the logs")
    r = sub.add_parser("report")
    r.add_argument("--out", default="runs/curves")
    r.add_argument("--png")
    r.add_argument("--md")
    args = ap.parse_args()
    train(args) if args.cmd == "train" else report(args)


if __name__ == "__main__":
    main()
