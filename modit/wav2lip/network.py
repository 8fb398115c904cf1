"""The Wav2Lip generator (Prajwal et al. 2020), used by MoDiT as the lip reference (paper §3.4.5, Figure 5).

Written from the published interface (module structure, shapes, state-dict key names), so the public
`wav2lip.pth` / `wav2lip_gan.pth` weights load into it unchanged. Its `state_dict()` keys and shapes are exactly
those of the public checkpoints (minus their DataParallel `module.` prefix); tests/wav2lip checks that against
the published key listing.

Data flow (B = batch of video frames):
    mel window  [B, 1, 80, 16]  log-mel, 0.2 s starting at the frame (80 mel frames/s)
    face        [B, 6, 96, 96]  BGR in 0..1: channels 0-2 the target crop with its lower half zeroed,
                                channels 3-5 the unmasked reference crop
    audio_encoder                -> [B, 512, 1, 1]
    face_encoder_blocks 0..6     -> skips at 96, 48, 24, 12, 6, 3, 1 px
    face_decoder_blocks 0..6     each output is concatenated with the deepest unused skip (U-Net)
    output_block                 -> [B, 3, 96, 96] BGR in 0..1 (sigmoid)
"""
import torch
from torch import nn

FACE_SIZE = 96  # Wav2Lip's face crop side in pixels
MEL_BINS = 80
MEL_STEPS = 16  # mel frames per window: 0.2 s at 80 mel frames/s


class ConvBlock(nn.Module):
    """Conv2d + BatchNorm2d + ReLU; with residual=True the input is added before the ReLU (cin == cout)."""

    def __init__(self, cin: int, cout: int, kernel_size, stride=1, padding=0, residual: bool = False):
        super().__init__()
        # The public checkpoints name these conv_block.0 (conv) and conv_block.1 (batch norm).
        self.conv_block = nn.Sequential(nn.Conv2d(cin, cout, kernel_size, stride, padding), nn.BatchNorm2d(cout))
        self.act = nn.ReLU()
        self.residual = residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv_block(x)
        if self.residual:
            out = out + x
        return self.act(out)


class UpBlock(nn.Module):
    """ConvTranspose2d + BatchNorm2d + ReLU (the decoder's upsampling step)."""

    def __init__(self, cin: int, cout: int, kernel_size, stride, padding, output_padding=0):
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ConvTranspose2d(cin, cout, kernel_size, stride, padding, output_padding), nn.BatchNorm2d(cout))
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv_block(x))


def _res(channels: int) -> ConvBlock:
    return ConvBlock(channels, channels, 3, 1, 1, residual=True)


def _down(cin: int, cout: int, num_residual: int) -> nn.Sequential:
    """Halve the resolution (stride 2), then num_residual residual blocks."""
    return nn.Sequential(ConvBlock(cin, cout, 3, 2, 1), *[_res(cout) for _ in range(num_residual)])


def _up(cin: int, cout: int, num_residual: int) -> nn.Sequential:
    """Double the resolution (transposed conv, stride 2), then num_residual residual blocks."""
    return nn.Sequential(UpBlock(cin, cout, 3, 2, 1, output_padding=1), *[_res(cout) for _ in range(num_residual)])


class Wav2Lip(nn.Module):
    """Wav2Lip generator: (mel window, masked + reference face) -> lip-synced face, all at 96x96 BGR."""

    def __init__(self):
        super().__init__()
        self.face_encoder_blocks = nn.ModuleList([
            nn.Sequential(ConvBlock(6, 16, 7, 1, 3)),  # 96
            _down(16, 32, 2),  # 48
            _down(32, 64, 3),  # 24
            _down(64, 128, 2),  # 12
            _down(128, 256, 2),  # 6
            _down(256, 512, 1),  # 3
            nn.Sequential(ConvBlock(512, 512, 3, 1, 0), ConvBlock(512, 512, 1, 1, 0)),  # 1
        ])
        self.audio_encoder = nn.Sequential(  # [B, 1, 80, 16] -> [B, 512, 1, 1]
            ConvBlock(1, 32, 3, 1, 1), _res(32), _res(32),  # 80 x 16
            ConvBlock(32, 64, 3, (3, 1), 1), _res(64), _res(64),  # 27 x 16
            ConvBlock(64, 128, 3, 3, 1), _res(128), _res(128),  # 9 x 6
            ConvBlock(128, 256, 3, (3, 2), 1), _res(256),  # 3 x 3
            ConvBlock(256, 512, 3, 1, 0),  # 1 x 1
            ConvBlock(512, 512, 1, 1, 0),
        )
        # Input widths = the previous decoder output + the skip it is concatenated with.
        self.face_decoder_blocks = nn.ModuleList([
            nn.Sequential(ConvBlock(512, 512, 1, 1, 0)),  # 1
            nn.Sequential(UpBlock(1024, 512, 3, 1, 0), _res(512)),  # 3
            _up(1024, 512, 2),  # 6
            _up(768, 384, 2),  # 12
            _up(512, 256, 2),  # 24
            _up(320, 128, 2),  # 48
            _up(160, 64, 2),  # 96
        ])
        self.output_block = nn.Sequential(ConvBlock(80, 32, 3, 1, 1), nn.Conv2d(32, 3, 1, 1, 0), nn.Sigmoid())

    def encode_face(self, face: torch.Tensor) -> list[torch.Tensor]:
        """face [B, 6, 96, 96] -> the 7 skip features, shallowest (96 px) first."""
        skips = []
        x = face
        for block in self.face_encoder_blocks:
            x = block(x)
            skips.append(x)
        return skips

    def decode(self, mel: torch.Tensor, skips: list[torch.Tensor]) -> torch.Tensor:
        """mel [B, 1, 80, 16] and encode_face's skips -> face [B, 3, 96, 96] BGR in 0..1.

        The skips may have batch 1 (one reference face for every mel window); they are broadcast.
        """
        B = mel.shape[0]
        x = self.audio_encoder(mel)  # [B, 512, 1, 1]
        for block, skip in zip(self.face_decoder_blocks, reversed(skips)):
            x = block(x)
            x = torch.cat((x, skip.expand(B, -1, -1, -1)), dim=1)  # deepest unused skip first
        return self.output_block(x)  # [B, 3, 96, 96]

    def forward(self, mel: torch.Tensor, face: torch.Tensor) -> torch.Tensor:
        """mel [B, 1, 80, 16], face [B, 6, 96, 96] BGR 0..1 -> [B, 3, 96, 96] BGR 0..1.

        A 5-D input ([B, C, T, H, W], as the reference training code feeds) has T folded into the batch and is
        returned as [B, 3, T, 96, 96].
        """
        if face.ndim == 5:
            B, T = face.shape[0], face.shape[2]
            mel = torch.cat([mel[:, t] for t in range(T)], dim=0)  # [T*B, 1, 80, 16], time-major
            face = torch.cat([face[:, :, t] for t in range(T)], dim=0)  # [T*B, 6, 96, 96]
            out = self.decode(mel, self.encode_face(face))
            return torch.stack(torch.split(out, B, dim=0), dim=2)  # [B, 3, T, 96, 96]
        return self.decode(mel, self.encode_face(face))
