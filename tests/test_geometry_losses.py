"""Geometry supervision (issue 9): dense heads, guided cross-attention, conv stem, per-token anchors.

Synthetic tensors for the losses; one tiny overfit run per loss; save/load with the heads.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from omrformer import OmrformerConfig, OmrformerModel
from omrformer.modeling.geometry import (
    anchor_targets,
    attention_hit_rate,
    guided_attention_loss,
    point_targets,
    record_cross_attention,
)
from omrformer.training.geometry import (
    MAX_STAFF_POS,
    SYMBOL_BARLINE,
    SYMBOL_NOTEHEAD,
    SYMBOL_REST,
    token_geometry,
)
from omrformer.training.module import OmrformerLightning

TINY = dict(stem="conv", dense_heads=True, guided_attention_weight=1.0, guided_layers=1, guided_heads=1,
            grammar_losses=False)


def _batch(b: int = 2, h: int = 64, w: int = 128, t: int = 6, anchored: bool = True) -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    pixels = torch.zeros(b, 1, h, w)
    labels = torch.randint(3, 100, (b, t))
    labels[:, -1] = 2  # <eos>
    anchors = torch.full((b, t, 2), float("nan"))
    points = torch.full((b, 3, 5), float("nan"))
    if anchored:
        for i in range(b):
            for j in range(t - 1):
                x, y = 10.0 + 18 * j, 20.0 + 4 * j
                anchors[i, j] = torch.tensor([x, y])
                pixels[i, 0, int(y) - 3 : int(y) + 3, int(x) - 3 : int(x) + 3] = 1.0
            points[i, 0] = torch.tensor([10.0, 20.0, SYMBOL_NOTEHEAD, MAX_STAFF_POS + 2, 3])
            points[i, 1] = torch.tensor([46.0, 28.0, SYMBOL_REST, -100, 4])
            points[i, 2] = torch.tensor([100.0, 30.0, SYMBOL_BARLINE, -100, -100])
    return {"pixel_values": pixels, "labels": labels, "token_anchors": anchors, "symbol_points": points}


def _module(**overrides) -> OmrformerLightning:
    torch.manual_seed(0)
    return OmrformerLightning(preset="tiny", config_overrides={**TINY, **overrides}, max_target_length=64)


def test_losses_absent_without_anchors_or_points() -> None:
    m = _module()
    m.train()
    batch = _batch(anchored=False)
    out = m._step(batch)
    assert "loss_guided_attention" not in out and "loss_dense" not in out
    assert torch.allclose(out["loss"], out["loss_ce"])  # nothing else was added
    # No geometry keys at all (a real scan): the plain model loss.
    plain = {k: v for k, v in batch.items() if k not in ("token_anchors", "symbol_points")}
    out = m._step(plain)
    assert set(k for k in out if k.startswith("loss_")) == {"loss_ce"}


def test_guided_attention_loss_is_zero_when_attention_matches_target() -> None:
    pos = torch.stack(torch.meshgrid(torch.arange(4), torch.arange(8), indexing="ij")[::-1], -1).reshape(1, 32, 2)
    pos = pos.float() * 16 + 7.5
    anchors = torch.tensor([[[40.0, 23.0], [float("nan"), float("nan")]]])
    target, has = anchor_targets(anchors, pos, None, sigma=1.0)  # type: ignore[misc]
    assert has.tolist() == [[True, False]]
    assert math.isclose(float(target[0, 0].sum()), 1.0, rel_tol=1e-5)
    terms = guided_attention_loss(target, anchors, pos, None, sigma=1.0)
    assert float(terms["loss_guided_attention"]) == pytest.approx(0.0, abs=1e-5)
    assert float(terms["acc_attention_hit"]) == 1.0
    uniform = torch.full_like(target, 1 / 32)
    assert float(guided_attention_loss(uniform, anchors, pos, None, 1.0)["loss_guided_attention"]) > 0.5
    assert guided_attention_loss(target, torch.full_like(anchors, float("nan")), pos, None, 1.0) == {}
    # The hit rate: peak in the anchor's token or a neighbour counts, two tokens away does not.
    far = torch.zeros_like(target)
    far[0, 0, 0] = 1.0  # token (0, 0) centre (7.5, 7.5): 2 tokens left of x=40
    assert float(attention_hit_rate(far, anchors, pos)) == 0.0


def test_point_targets_put_classes_on_the_right_tokens() -> None:
    pos = torch.stack(torch.meshgrid(torch.arange(4), torch.arange(8), indexing="ij")[::-1], -1).reshape(1, 32, 2)
    pos = pos.float() * 16 + 7.5
    points = torch.tensor([[[40.0, 23.0, SYMBOL_NOTEHEAD, 14, 3], [100.0, 5.0, SYMBOL_BARLINE, -100, -100],
                            [float("nan")] * 5]])
    sym, staff, dur = point_targets(points, pos, None)  # type: ignore[misc]
    assert sym[0, 1 * 8 + 2] == SYMBOL_NOTEHEAD and staff[0, 10] == 14 and dur[0, 10] == 3
    assert sym[0, 0 * 8 + 6] == SYMBOL_BARLINE and staff[0, 6] == -100
    assert int((sym != 0).sum()) == 2
    assert point_targets(torch.full((1, 2, 5), float("nan")), pos, None) is None


@pytest.mark.parametrize("which", ["guided", "dense"])
def test_each_loss_has_finite_gradients_and_falls_on_a_tiny_overfit(which: str) -> None:
    m = _module()
    m.train()
    batch = _batch()
    name = "loss_guided_attention" if which == "guided" else "loss_dense"
    opt = torch.optim.Adam(m.parameters(), lr=3e-3)
    values = []
    for _ in range(25):
        out = m._step(batch)
        assert name in out
        opt.zero_grad()
        out[name].backward()
        grads = [p.grad for p in m.parameters() if p.grad is not None]
        assert grads and all(torch.isfinite(g).all() for g in grads)
        opt.step()
        values.append(float(out[name]))
    assert values[-1] < 0.7 * values[0], values


def test_heads_are_training_only_and_survive_save_load(tmp_path) -> None:
    cfg = OmrformerConfig.from_preset("tiny", **TINY, max_target_length=64)
    model = OmrformerModel(cfg).eval()
    assert model.encoder.dense_heads is not None
    model.save_pretrained(tmp_path)
    loaded = OmrformerModel.from_pretrained(tmp_path).eval()
    assert loaded.config.stem == "conv" and loaded.encoder.dense_heads is not None
    for (n1, p1), (n2, p2) in zip(model.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert n1 == n2 and torch.equal(p1, p2)
    pixels = _batch()["pixel_values"]
    ids = loaded.generate(pixel_values=pixels, max_length=6, do_sample=False, num_beams=1)
    assert ids.shape[0] == 2 and torch.equal(ids, model.generate(pixel_values=pixels, max_length=6,
                                                                   do_sample=False, num_beams=1))
    # Inference never runs the heads: removing them changes no logit.
    labels = _batch()["labels"]
    with torch.no_grad():
        before = loaded(pixel_values=pixels, labels=labels).logits
        loaded.encoder.dense_heads = None
        after = loaded(pixel_values=pixels, labels=labels).logits
    assert torch.equal(before, after)


def test_defaults_reproduce_the_old_model() -> None:
    cfg = OmrformerConfig.from_preset("tiny")
    assert cfg.stem == "patch" and not cfg.dense_heads and cfg.guided_attention_weight == 0
    names = set(OmrformerModel(cfg).state_dict())
    assert "encoder.patch_embed.weight" in names and not any("dense_heads" in n for n in names)


def test_recorder_returns_the_guided_heads_mean_attention() -> None:
    m = _module(guided_layers=1, guided_heads=2)
    b = _batch()
    enc = m.model.encode(b["pixel_values"])
    with record_cross_attention(m.model, m.model.config) as rec:
        m.model(encoder_outputs=enc, labels=b["labels"])
        att = rec.mean_attention()
    assert att is not None and att.shape == (2, b["labels"].shape[1], enc.last_hidden_state.shape[1])
    assert torch.allclose(att.sum(-1), torch.ones(att.shape[:2]), atol=1e-5)
    assert all(layer.cross_attn.record_heads == 0 for layer in m.model.decoder.layers)


def test_token_geometry_anchors_event_tokens_and_their_attributes() -> None:
    tokens = ["part", "staff", "clef:G2", "time", "n:2", "n:4", "voice",
              "note", "acc:sharp", "pitch:F5", "dur:quarter", "rest", "dur:quarter", "bar"]
    lines = np.array([[[0.0, 100 + 10 * k], [300.0, 100 + 10 * k]] for k in range(5)])
    geometry = {"staves": [{"lines": lines.tolist()}],
                "anchors": {"t7": [50.0, 100.0], "t11": [120.0, 120.0]},
                "measures": [{"index": 0, "quad": [[0, 90], [200, 90], [200, 150], [0, 150]]}]}
    tg = token_geometry(tokens, geometry)
    assert tg is not None and tg.anchors.shape == (len(tokens) + 1, 2)
    has = ~np.isnan(tg.anchors[:, 0])
    assert has.tolist() == [False] * 7 + [True] * 7 + [False]  # note..dur, rest, dur, bar; not <eos>
    assert tg.anchors[8, 0] < tg.anchors[7, 0]  # the accidental sits left of its notehead
    note = tg.points[tg.points[:, 2] == SYMBOL_NOTEHEAD][0]
    assert note[3] == MAX_STAFF_POS + 4  # top line = 4 half spaces above the middle line
    assert note[4] == 3  # quarter
    assert token_geometry(tokens, {"staves": geometry["staves"], "anchors": {"t2": [1, 1]}}) is None
    assert token_geometry(tokens, None) is None
