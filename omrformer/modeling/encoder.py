"""The image encoder: patches -> windowed attention -> compression -> global attention -> memory."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from transformers.utils import ModelOutput

from omrformer.configuration import OmrformerConfig
from omrformer.modeling.attention import GlobalBlock, WindowBlock
from omrformer.modeling.compressor import TokenCompressor
from omrformer.modeling.geometry import ConvStem, DenseHeads
from omrformer.modeling.positional import PatchPositionalEncoding, grid_coords


@dataclass
class EncoderOutput(ModelOutput):
    """What the decoder attends to.

    Attributes:
        last_hidden_state: (B, N, d_model) compressed vision tokens.
        memory_mask: (B, N) True where a token covers real image (False = batch padding).
        memory_positions: (B, N, 2) pixel (x, y) centre of each token, for tying outputs to the image.
    """

    last_hidden_state: torch.Tensor | None = None
    memory_mask: torch.Tensor | None = None
    memory_positions: torch.Tensor | None = None


class OmrformerEncoder(nn.Module):
    """Grayscale image (B, 1, H, W) -> :class:`EncoderOutput`."""

    main_input_name = "pixel_values"  # generate() looks for it on the encoder too

    def __init__(self, config: OmrformerConfig) -> None:
        super().__init__()
        self.config = config
        p, dl, dm = config.patch_size, config.local_dim, config.d_model
        # "patch": one 8x8 linear patchify; "conv": three strided 3x3 convs onto the same grid.
        self.patch_embed: nn.Module = (
            ConvStem(dl, config.stem_channels) if config.stem == "conv" else nn.Conv2d(1, dl, kernel_size=p, stride=p)
        )
        self.patch_norm = nn.LayerNorm(dl)
        self.pos_local = PatchPositionalEncoding(dl, config.positional, config.max_staves)
        n_blocks = config.local_layers + config.encoder_layers
        rates = [config.drop_path * i / max(n_blocks - 1, 1) for i in range(n_blocks)]
        self.local_blocks = nn.ModuleList(
            WindowBlock(
                dl,
                config.local_heads,
                config.window_size,
                shift=bool(i % 2),
                mlp_ratio=config.ffn_mult,
                dropout=config.dropout,
                drop_path=rates[i],
            )
            for i in range(config.local_layers)
        )
        self.compressor = TokenCompressor(dl, dm, config.compress_factor)
        # Positions are re-injected after compression (pooled encodings, projected to d_model).
        self.pos_global = nn.Linear(dl, dm) if config.positional != "none" else None
        self.global_blocks = nn.ModuleList(
            GlobalBlock(
                dm, config.encoder_heads, config.ffn_mult, config.dropout, rates[config.local_layers + i]
            )
            for i in range(config.encoder_layers)
        )
        self.norm = nn.LayerNorm(dm)
        # Training-only heads on the memory (omrformer.modeling.geometry); never run at inference.
        self.dense_heads = DenseHeads(dm) if config.dense_heads else None

    def forward(
        self,
        pixel_values: torch.Tensor,
        pixel_mask: torch.Tensor | None = None,
        patch_coords: torch.Tensor | None = None,
        **kwargs,
    ) -> EncoderOutput:
        """Encode a batch of images.

        Args:
            pixel_values: (B, 1, H, W) normalised images, H and W multiples of ``patch_size``.
            pixel_mask: (B, H, W) True on real pixels; None when no image in the batch is padded.
            patch_coords: (B, H/p, W/p, 4) per-patch (staff index, staff position, x, y) from the
                processor; None means plain 2D coordinates.
            **kwargs: Ignored (``generate`` passes its own bookkeeping here).
        """
        p = self.config.patch_size
        b, _, h, w = pixel_values.shape
        if h % p or w % p:
            raise ValueError(
                f"image size {h}x{w} is not a multiple of the patch size {p}; use OmrformerProcessor"
            )
        # channels_last: CPU convolutions run several times faster in NHWC.
        pixels = pixel_values.contiguous(memory_format=torch.channels_last)
        x = self.patch_norm(self.patch_embed(pixels).permute(0, 2, 3, 1))  # (B, Hp, Wp, Cl)
        hp, wp = x.shape[1:3]
        if pixel_mask is None:
            valid = torch.ones(b, hp, wp, dtype=torch.bool, device=x.device)
        else:
            # A patch is real when any of its pixels is.
            valid = F.max_pool2d(pixel_mask.float().unsqueeze(1), p, p).squeeze(1) > 0  # (B, Hp, Wp)
        if patch_coords is None:
            patch_coords = grid_coords(b, hp, wp, x.device)
        pe = self.pos_local(patch_coords.to(x.device))  # (B, Hp, Wp, Cl)
        x = x + pe
        for blk in self.local_blocks:
            x = blk(x, valid)
        x, valid_c = self.compressor(x, valid)  # (B, Hc, Wc, D), (B, Hc, Wc)
        if self.pos_global is not None:
            x = x + self.pos_global(self.compressor.pool(pe))
        hc, wc = x.shape[1:3]
        x = x.reshape(b, hc * wc, -1)  # (B, N, D)
        mask = valid_c.reshape(b, hc * wc)
        for blk in self.global_blocks:
            x = blk(x, mask)
        s = self.compressor.stride * p
        ys, xs = torch.meshgrid(
            torch.arange(hc, device=x.device), torch.arange(wc, device=x.device), indexing="ij"
        )
        centres = torch.stack([xs, ys], -1).reshape(1, hc * wc, 2).float() * s + (s - 1) / 2
        return EncoderOutput(
            last_hidden_state=self.norm(x), memory_mask=mask, memory_positions=centres.expand(b, -1, -1)
        )
