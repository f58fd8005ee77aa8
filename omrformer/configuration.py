"""OmrformerConfig: every architecture and loss setting of the model in one typed config.

The vocabulary is not stored here (it is saved beside the weights as ``vocab.json``); only its size
and the special token ids are, because the embedding shapes and ``generate`` depend on them.
Generation knobs (beams, max length) belong in ``generation_config``, not here.
"""

from __future__ import annotations

from typing import Any, Literal

from transformers import PretrainedConfig

from grammar.vocab import VOCAB

PositionalMode = Literal["staff", "2d", "none"]

# Presets: ``tiny`` for tests (seconds on CPU), ``small`` usable on CPU for system images (~10-25M
# parameters), ``base`` for GPU training. Numbers are starting points, not tuned results.
PRESETS: dict[str, dict[str, Any]] = {
    "tiny": dict(
        local_dim=32,
        local_layers=1,
        local_heads=2,
        window_size=4,
        compress_factor=4,
        d_model=48,
        encoder_layers=1,
        encoder_heads=2,
        decoder_layers=1,
        decoder_heads=2,
        ffn_mult=2,
        max_target_length=512,
    ),
    "small": dict(
        local_dim=128,
        local_layers=2,
        local_heads=4,
        window_size=8,
        compress_factor=4,
        d_model=320,
        encoder_layers=4,
        encoder_heads=8,
        decoder_layers=4,
        decoder_heads=8,
        ffn_mult=4,
        max_target_length=2048,
    ),
    "base": dict(
        local_dim=192,
        local_layers=4,
        local_heads=6,
        window_size=8,
        compress_factor=4,
        d_model=512,
        encoder_layers=8,
        encoder_heads=8,
        decoder_layers=8,
        decoder_heads=8,
        ffn_mult=4,
        max_target_length=4096,
    ),
}


class OmrformerConfig(PretrainedConfig):
    """Configuration of :class:`~omrformer.modeling.model.OmrformerModel`.

    Args:
        vocab_size: Number of model tokens (177 for the current language).
        patch_size: Side of the square image patches in pixels.
        local_dim: Width of the full-resolution windowed-attention stage.
        local_layers: Windowed-attention blocks (odd blocks use shifted windows).
        local_heads: Attention heads in the windowed stage.
        window_size: Window side in patches (a window covers ``window_size * patch_size`` pixels).
        compress_factor: Tokens merged into one by the learned compressor: 1, 4 or 16
            (a strided convolution of stride 1, 2 or 4 in each direction).
        d_model: Width of the global encoder stage and of the decoder.
        encoder_layers: Global self-attention blocks on the compressed tokens.
        encoder_heads: Heads in the global encoder blocks.
        decoder_layers: Pre-LN decoder blocks.
        decoder_heads: Heads in the decoder self- and cross-attention.
        ffn_mult: Hidden width of every feed-forward layer as a multiple of its input width.
        dropout: Dropout on attention outputs and feed-forward layers.
        drop_path: Stochastic depth rate (linearly increasing over encoder blocks).
        positional: Encoder positional encoding: ``"staff"`` (staff index, position in staff
            spaces, x), ``"2d"`` (sin-cos of patch row and column) or ``"none"``.
        max_staves: Staff indices at or above this share the last staff embedding.
        max_target_length: Longest decoder sequence (learned position table size).
        num_experts: 0 for a dense decoder FFN; otherwise the number of MoE experts per layer.
        moe_top_k: Experts each token is routed to.
        moe_loss_weight: Weight of the per-layer load-balancing loss in ``loss``.
        input_corruption: Fraction of decoder inputs replaced by random tokens while training.
        label_smoothing: Cross-entropy label smoothing (keep 0 when training with duration losses).
        measure_loss_weight: Weight of the expected measure-duration loss (0 = logged only).
        forbidden_loss_weight: Weight of the mass put on forbidden tokens (0 = logged only).
        grammar_losses: Compute the grammar losses at all (they cost a Python pass per batch).
        stem: ``"patch"`` (one 8x8 linear patchify, the bundled checkpoint's) or ``"conv"`` (three
            3x3 stride-2 convolutions ending on the same 8x8 patch grid, Xiao et al. 2021).
        stem_channels: Width of the first convolution of the ``"conv"`` stem (doubled per conv).
        dense_heads: Add the training-only per-memory-token heads (symbol present, notehead staff
            position, duration class) trained from the engraving geometry.
        dense_loss_weight: Weight of the dense heads' loss in the training loss.
        guided_attention_weight: Weight of the guided cross-attention loss (0 = off).
        guided_layers: The last this many decoder layers are guided.
        guided_heads: The first this many heads of each guided layer are guided.
        guided_sigma: Width of the target Gaussian around an anchor, in memory tokens.
        reading_layout: What one training image held: ``"staves"`` (one staff), ``"systems"`` or
            ``"page"``; ``omrformer transcribe`` cuts pages the same way by default. ``None``
            (checkpoints that do not say) reads whole pages.
        **kwargs: Passed on to :class:`transformers.PretrainedConfig`.
    """

    model_type = "omrformer"
    # Names transformers' generic code (caches, generate) looks for.
    attribute_map = {
        "hidden_size": "d_model",
        "num_hidden_layers": "decoder_layers",
        "num_attention_heads": "decoder_heads",
    }

    def __init__(
        self,
        vocab_size: int = len(VOCAB),
        patch_size: int = 8,
        local_dim: int = 128,
        local_layers: int = 2,
        local_heads: int = 4,
        window_size: int = 8,
        compress_factor: int = 4,
        d_model: int = 320,
        encoder_layers: int = 4,
        encoder_heads: int = 8,
        decoder_layers: int = 4,
        decoder_heads: int = 8,
        ffn_mult: int = 4,
        dropout: float = 0.0,
        drop_path: float = 0.0,
        positional: PositionalMode = "staff",
        max_staves: int = 32,
        max_target_length: int = 2048,
        num_experts: int = 0,
        moe_top_k: int = 2,
        moe_loss_weight: float = 0.01,
        input_corruption: float = 0.2,
        label_smoothing: float = 0.0,
        measure_loss_weight: float = 0.0,
        forbidden_loss_weight: float = 0.0,
        grammar_losses: bool = True,
        stem: Literal["patch", "conv"] = "patch",
        stem_channels: int = 16,
        dense_heads: bool = False,
        dense_loss_weight: float = 0.5,
        guided_attention_weight: float = 0.0,
        guided_layers: int = 2,
        guided_heads: int = 2,
        guided_sigma: float = 1.0,
        reading_layout: str | None = None,
        **kwargs: Any,
    ) -> None:
        if compress_factor not in (1, 4, 16):
            raise ValueError(f"compress_factor must be 1, 4 or 16, got {compress_factor}")
        if positional not in ("staff", "2d", "none"):
            raise ValueError(f"positional must be 'staff', '2d' or 'none', got {positional!r}")
        if local_dim % local_heads or d_model % encoder_heads or d_model % decoder_heads:
            raise ValueError("every width must be divisible by its number of heads")
        if num_experts and not 1 <= moe_top_k <= num_experts:
            raise ValueError(
                f"moe_top_k must be in 1..num_experts, got {moe_top_k} for {num_experts} experts"
            )
        if stem not in ("patch", "conv"):
            raise ValueError(f"stem must be 'patch' or 'conv', got {stem!r}")
        if stem == "conv" and patch_size != 8:
            raise ValueError("the conv stem (three stride-2 convolutions) needs patch_size 8")
        if guided_attention_weight and not (
            1 <= guided_layers <= decoder_layers and 1 <= guided_heads <= decoder_heads
        ):
            raise ValueError("guided_layers/guided_heads must be within the decoder's layers/heads")
        if reading_layout not in (None, "staves", "systems", "page"):
            raise ValueError(f"reading_layout must be 'staves', 'systems', 'page' or None, got {reading_layout!r}")
        if not 0.0 <= input_corruption < 1.0:
            raise ValueError(f"input_corruption must be in [0, 1), got {input_corruption}")
        self.vocab_size = vocab_size
        self.patch_size = patch_size
        self.local_dim = local_dim
        self.local_layers = local_layers
        self.local_heads = local_heads
        self.window_size = window_size
        self.compress_factor = compress_factor
        self.d_model = d_model
        self.encoder_layers = encoder_layers
        self.encoder_heads = encoder_heads
        self.decoder_layers = decoder_layers
        self.decoder_heads = decoder_heads
        self.ffn_mult = ffn_mult
        self.dropout = dropout
        self.drop_path = drop_path
        self.positional = positional
        self.max_staves = max_staves
        self.max_target_length = max_target_length
        self.num_experts = num_experts
        self.moe_top_k = moe_top_k
        self.moe_loss_weight = moe_loss_weight
        self.input_corruption = input_corruption
        self.label_smoothing = label_smoothing
        self.measure_loss_weight = measure_loss_weight
        self.forbidden_loss_weight = forbidden_loss_weight
        self.grammar_losses = grammar_losses
        self.stem = stem
        self.stem_channels = stem_channels
        self.dense_heads = dense_heads
        self.dense_loss_weight = dense_loss_weight
        self.guided_attention_weight = guided_attention_weight
        self.guided_layers = guided_layers
        self.guided_heads = guided_heads
        self.guided_sigma = guided_sigma
        self.reading_layout = reading_layout
        kwargs.setdefault("pad_token_id", VOCAB.pad_id)
        kwargs.setdefault("bos_token_id", VOCAB.bos_id)
        kwargs.setdefault("eos_token_id", VOCAB.eos_id)
        kwargs.setdefault("decoder_start_token_id", VOCAB.bos_id)
        kwargs.setdefault("is_encoder_decoder", True)
        super().__init__(**kwargs)

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> OmrformerConfig:
        """Build a config from a named preset (``tiny``, ``small``, ``base``) plus overrides."""
        if name not in PRESETS:
            raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
        return cls(**{**PRESETS[name], **overrides})
