"""Video data sets: ``video.moving_shapes`` (procedural), ``video.moving_digits`` (scikit-learn's
real 8x8 digits) and ``video.folder`` (the user's clips, decoded with PyAV).

The shape-motion set follows MoCoGAN's synthetic *Shape motion* data (Tulyakov et al., CVPR
2018, sec. 4: shapes moving along straight lines or curves, the motion as the label), widened
to three shapes, several colours and six motions (``right``, ``left``, ``bezier``, ``bounce``,
``rotate``, ``scale``; ``up`` and ``down`` are also available). Every clip is fixed by the seed
and its index: its parameters are drawn once for the whole set and frames are rendered on
demand (and kept when ``cache: true``), so any count, length and size is cheap.

Items and batches are ``{"real": (C, T, H, W) float in [-1, 1]}`` (a batch adds ``B``) and, with
``conditional: true``, ``"condition"``: the motion label. ``held_out`` is the fraction of clips
kept apart (fixed by the seed); :meth:`held_out_set` returns them in the same item format.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from genmm.errors import DataError

log = logging.getLogger(__name__)

SHAPES = ("circle", "square", "triangle")
COLOURS = {
    "red": (230, 50, 50),
    "green": (60, 200, 70),
    "blue": (60, 110, 240),
    "yellow": (240, 220, 50),
    "magenta": (220, 60, 220),
    "cyan": (60, 220, 230),
}
MOTIONS = ("right", "left", "up", "down", "bezier", "bounce", "rotate", "scale")
DEFAULT_MOTIONS = ["right", "left", "bezier", "bounce", "rotate", "scale"]
PERIOD = 16  # underlying frames of one full motion; frame_stride n makes it n times faster


def to_float(clips: Tensor) -> Tensor:
    """uint8 ``[0, 255]`` -> float32 ``[-1, 1]``."""
    return clips.float().mul_(2.0 / 255.0).sub_(1.0)


def to_uint8(clips: Tensor) -> Tensor:
    """float ``[-1, 1]`` -> uint8 ``[0, 255]`` (clamped)."""
    return ((clips.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def split_indices(count: int, held_out: float, seed: int) -> tuple[Tensor, Tensor]:
    """(train, held-out) indices of ``count`` clips, a permutation fixed by ``seed``."""
    if not 0.0 <= held_out < 1.0:
        raise DataError(f"held_out must be a fraction in [0, 1), got {held_out}")
    order = torch.randperm(count, generator=torch.Generator().manual_seed(seed + 104_729))
    cut = int(round(count * held_out))
    return order[cut:].sort().values, order[:cut].sort().values


# ====================================================================== the base
class VideoDataset(torch.utils.data.Dataset):
    """Clips with motion labels; subclasses implement :meth:`clips` (uint8 ``(N, C, T, H, W)``
    for the given item positions) and fill ``labels``, ``class_names``, ``arguments``."""

    registered_name = "video.dataset"

    def __init__(self, conditional: bool) -> None:
        self.conditional = conditional
        self.indices = torch.zeros(0, dtype=torch.long)  # this part's items of the whole set
        self.labels = torch.zeros(0, dtype=torch.long)  # of the whole set
        self.class_names: list[str] = []
        self.arguments: dict[str, Any] = {}
        self.frames = self.size = self.channels = 0
        self.held_out_indices = torch.zeros(0, dtype=torch.long)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def __len__(self) -> int:
        return int(self.indices.numel())

    def render(self, items: Tensor) -> Tensor:
        """uint8 ``(N, C, T, H, W)`` clips of the whole set's items ``items``."""
        raise NotImplementedError

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        batch = self.get_batch([index])
        return {key: value[0] for key, value in batch.items()}

    def get_batch(self, positions: list[int]) -> dict[str, Tensor]:
        items = self.indices[torch.as_tensor(positions, dtype=torch.long)]
        batch = {"real": to_float(self.render(items))}
        if self.conditional:
            batch["condition"] = self.labels[items]
        return batch

    def item_labels(self) -> Tensor:
        """The labels of this part's clips, in order."""
        return self.labels[self.indices]

    def all_clips(self, limit: int | None = None, chunk: int = 256) -> Tensor:
        """This part's clips (the first ``limit``) as float ``[-1, 1]``."""
        count = len(self) if limit is None else min(limit, len(self))
        parts = [
            to_float(self.render(self.indices[start : min(count, start + chunk)]))
            for start in range(0, count, chunk)
        ]
        return torch.cat(parts) if parts else torch.zeros(0)

    def held_out_set(self) -> VideoDataset:
        """The held-out clips (a fraction ``held_out``, fixed by the seed), same item format."""
        part = object.__new__(type(self))
        part.__dict__.update(self.__dict__)
        part.indices = self.held_out_indices
        part.held_out_indices = torch.zeros(0, dtype=torch.long)
        return part

    def describe(self) -> dict[str, Any]:
        """The facts models, metrics and writers are built from, as plain data."""
        return {
            "modality": "video",
            "frames": int(self.frames),
            "size": int(self.size),
            "channels": int(self.channels),
            "num_classes": self.num_classes,
            "class_names": list(self.class_names),
            "conditional": self.conditional,
            "held_out": float(self.arguments.get("held_out", 0.0)),
            "items": len(self),
        }

    def identity(self) -> str:
        """A short hash of what defines the clips (name and arguments), for metric caches."""
        key = {k: v for k, v in self.arguments.items() if k not in ("conditional", "cache")}
        text = json.dumps({"name": self.registered_name, **key}, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def _finish(self, count: int, held_out: float, seed: int) -> None:
        self.indices, self.held_out_indices = split_indices(count, held_out, seed)
        if len(self.indices) == 0:
            raise DataError(f"{self.registered_name}: no training clips (count {count})")


# ====================================================================== motion
def motion_paths(
    motion: Tensor, params: dict[str, Tensor], u: Tensor
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Centre x, y, angle and scale factor of N clips at times ``u`` (N, T), in units of the
    frame side (centre in [0, 1]). ``motion`` indexes :data:`MOTIONS`."""
    x0, y0, dx, dy = params["x0"], params["y0"], params["dx"], params["dy"]
    cx, cy = params["cx"], params["cy"]
    x0, y0, dx, dy, cx, cy = (v[:, None] for v in (x0, y0, dx, dy, cx, cy))
    start_angle = params["angle"][:, None]
    spin = params["spin"][:, None]
    zeros = torch.zeros_like(u)
    # straight lines: from the start point along the chosen direction
    sign = torch.ones_like(u)
    horizontal = torch.stack([sign, -sign, zeros, zeros])  # right, left, up, down
    vertical = torch.stack([zeros, zeros, -sign, sign])
    which = motion.clamp(max=3)
    line_x = x0 + dx.abs() * horizontal[which, torch.arange(len(u))] * u
    line_y = y0 + dy.abs() * vertical[which, torch.arange(len(u))] * u
    # quadratic Bézier: start -> control -> end
    ex, ey = x0 + dx, y0 + dy
    bez_x = (1 - u) ** 2 * x0 + 2 * (1 - u) * u * cx + u**2 * ex
    bez_y = (1 - u) ** 2 * y0 + 2 * (1 - u) * u * cy + u**2 * ey
    # bounce: a ball falling on a floor twice per period, drifting a little sideways
    hop = (torch.sin(2 * math.pi * u)).abs()
    bounce_x = x0 + 0.15 * dx * u
    bounce_y = y0 + 0.25 - 0.45 * hop
    index = motion[:, None].expand_as(u)
    x = torch.where(index <= 3, line_x, x0.expand_as(u))
    y = torch.where(index <= 3, line_y, y0.expand_as(u))
    x = torch.where(index == 4, bez_x, x)
    y = torch.where(index == 4, bez_y, y)
    x = torch.where(index == 5, bounce_x, x)
    y = torch.where(index == 5, bounce_y, y)
    angle = start_angle + torch.where(index == 6, spin * 2 * math.pi * u, zeros)
    scale = torch.where(index == 7, 1.0 + 0.6 * torch.sin(2 * math.pi * u), torch.ones_like(u))
    return x, y, angle, scale


def shape_masks(
    shape: Tensor, px: Tensor, py: Tensor, radius: Tensor, angle: Tensor
) -> tuple[Tensor, Tensor]:
    """Body and marker masks of N*T shapes on a pixel grid. ``px``/``py`` (M, H, W) are pixel
    offsets from each shape's centre; ``radius`` and ``angle`` are (M, 1, 1). The marker (a
    small dark dot off-centre) makes rotation visible, also on circles."""
    cos, sin = torch.cos(angle), torch.sin(angle)
    rx, ry = cos * px + sin * py, -sin * px + cos * py  # shape-aligned coordinates
    circle = rx**2 + ry**2 <= radius**2
    square = torch.maximum(rx.abs(), ry.abs()) <= radius * 0.85
    # equilateral triangle pointing along +x: three half-planes
    edges = []
    for k in range(3):
        theta = 2 * math.pi * k / 3
        edges.append(rx * math.cos(theta) + ry * math.sin(theta) <= radius * 0.5)
    triangle = edges[0] & edges[1] & edges[2]
    body = torch.where(shape == 0, circle, torch.where(shape == 1, square, triangle))
    marker = (rx - 0.45 * radius) ** 2 + ry**2 <= (0.22 * radius) ** 2
    return body, marker & body


class MovingShapes(VideoDataset):
    """Coloured circles, squares and triangles, each clip one motion (its label): straight lines
    (``right``/``left``/``up``/``down``), a quadratic Bézier curve (``bezier``), bouncing
    (``bounce``), spinning in place (``rotate``) or growing and shrinking (``scale``).

    ``count`` clips of ``frames`` frames of ``size`` x ``size`` pixels, 3 channels, on black;
    ``frame_stride`` takes every n-th frame of the underlying 16-frame motion (n times faster).
    Fixed by ``seed``; ``motions`` chooses the classes, ``shapes``/``colours`` the content.
    """

    registered_name = "video.moving_shapes"

    def __init__(
        self,
        count: int = 2000,
        frames: int = 16,
        size: int = 64,
        frame_stride: int = 1,
        motions: list[str] | None = None,
        shapes: list[str] | None = None,
        colours: list[str] | None = None,
        min_radius: float = 0.1,
        max_radius: float = 0.16,
        held_out: float = 0.2,
        conditional: bool = False,
        cache: bool = True,
        seed: int = 0,
    ) -> None:
        super().__init__(conditional)
        motions = list(motions or DEFAULT_MOTIONS)
        shapes = list(shapes or SHAPES)
        colours = list(colours or COLOURS)
        for kind, given, valid in (
            ("motion", motions, MOTIONS),
            ("shape", shapes, SHAPES),
            ("colour", colours, tuple(COLOURS)),
        ):
            for name in given:
                if name not in valid:
                    choices = ", ".join(valid)
                    raise DataError(
                        f"{self.registered_name}: unknown {kind} '{name}' (valid: {choices})"
                    )
        if count < 1 or frames < 1 or size < 8 or frame_stride < 1:
            raise DataError(
                f"{self.registered_name}: need count >= 1, frames >= 1, size >= 8, "
                f"frame_stride >= 1 (got {count}, {frames}, {size}, {frame_stride})"
            )
        if not 0 < min_radius <= max_radius < 0.5:
            raise DataError(f"{self.registered_name}: need 0 < min_radius <= max_radius < 0.5")
        self.arguments = {
            "count": count,
            "frames": frames,
            "size": size,
            "frame_stride": frame_stride,
            "motions": motions,
            "shapes": shapes,
            "colours": colours,
            "min_radius": min_radius,
            "max_radius": max_radius,
            "held_out": held_out,
            "seed": seed,
        }
        self.frames, self.size, self.channels, self.stride = frames, size, 3, frame_stride
        self.class_names = motions
        self.cache = cache
        self._cache: dict[int, Tensor] = {}
        generator = torch.Generator().manual_seed(seed)

        def uniform(low: float, high: float) -> Tensor:
            return low + (high - low) * torch.rand(count, generator=generator)

        self.labels = torch.randint(len(motions), (count,), generator=generator)
        self.motion = torch.tensor([MOTIONS.index(motions[k]) for k in self.labels.tolist()])
        self.shape = torch.tensor(
            [
                SHAPES.index(shapes[k])
                for k in torch.randint(len(shapes), (count,), generator=generator)
            ]
        )
        palette = torch.tensor([COLOURS[name] for name in colours], dtype=torch.float32)
        self.colour = palette[torch.randint(len(colours), (count,), generator=generator)]
        self.radius = uniform(min_radius, max_radius)
        travel = uniform(0.35, 0.5)
        direction = uniform(0, 2 * math.pi)
        margin = self.radius + 0.02
        self.params = {
            "x0": uniform(0.0, 1.0),
            "y0": uniform(0.0, 1.0),
            "dx": travel * torch.cos(direction),
            "dy": travel * torch.sin(direction),
            "cx": uniform(0.1, 0.9),
            "cy": uniform(0.1, 0.9),
            "angle": uniform(0, 2 * math.pi),
            "spin": torch.where(torch.rand(count, generator=generator) < 0.5, -1.0, 1.0),
            "phase": uniform(0.0, 1.0),
        }
        self._place(margin, travel)
        self._finish(count, held_out, seed)

    def _place(self, margin: Tensor, travel: Tensor) -> None:
        """Start points chosen so that each motion's path stays inside the frame."""
        p, m = self.params, self.motion
        low, high = margin, 1 - margin
        span = (high - low).clamp_min(1e-3)
        x0, y0 = low + p["x0"] * span, low + p["y0"] * span
        # lines: start where the whole travel fits in the motion's direction
        length = torch.minimum(travel, span)
        p["dx"] = torch.where(m <= 1, length, p["dx"])
        p["dy"] = torch.where((m == 2) | (m == 3), length, p["dy"])
        room = (span - length).clamp_min(0)
        x0 = torch.where(m == 0, low + p["x0"] * room, x0)
        x0 = torch.where(m == 1, high - p["x0"] * room, x0)
        y0 = torch.where(m == 2, high - p["y0"] * room, y0)
        y0 = torch.where(m == 3, low + p["y0"] * room, y0)
        # Bézier: start and end inside, control point far from the chord (a visible curve)
        ex = (x0 + p["dx"]).clamp(low, high)
        ey = (y0 + p["dy"]).clamp(low, high)
        bezier = m == 4
        p["dx"] = torch.where(bezier, ex - x0, p["dx"])
        p["dy"] = torch.where(bezier, ey - y0, p["dy"])
        # bounce: room below for the floor and above for the hop
        y0 = torch.where(m == 5, 0.5 + (p["y0"] - 0.5) * 0.1, y0)
        x0 = torch.where(m == 5, 0.3 + 0.4 * p["x0"], x0)
        # rotate and scale stay near the centre area (scale grows the radius by 1.6)
        central = (m == 6) | (m == 7)
        x0 = torch.where(central, 0.3 + 0.4 * p["x0"], x0)
        y0 = torch.where(central, 0.3 + 0.4 * p["y0"], y0)
        p["x0"], p["y0"] = x0, y0

    def times(self, items: Tensor) -> Tensor:
        """Motion progress u in [0, 1] of each frame: (N, T). Frame k is underlying frame
        ``k * frame_stride`` of a 16-frame period (straight lines and curves run once over the
        clip at stride 1; periodic motions continue)."""
        steps = torch.arange(self.frames, dtype=torch.float32) * self.stride
        u = steps / max(1, (self.frames - 1) * 1)
        periodic = (self.motion[items] >= 5)[:, None]
        cyclic = (steps / PERIOD)[None, :] + self.params["phase"][items, None]
        linear = u[None, :].expand(len(items), -1)
        if self.stride > 1:  # faster lines reflect from the far end (triangle wave)
            linear = 1 - (linear % 2 - 1).abs()
        return torch.where(periodic, cyclic, linear)

    def render(self, items: Tensor) -> Tensor:
        items = torch.as_tensor(items, dtype=torch.long).reshape(-1)
        missing = [i for i in items.tolist() if i not in self._cache]
        if missing:
            rendered = self._render(torch.tensor(missing, dtype=torch.long))
            if not self.cache:
                lookup = dict(zip(missing, rendered))
                return torch.stack([lookup[i] for i in items.tolist()])
            self._cache.update(zip(missing, rendered))
        return torch.stack([self._cache[i] for i in items.tolist()])

    def _render(self, items: Tensor) -> Tensor:
        n, frames, size = len(items), self.frames, self.size
        params = {key: value[items] for key, value in self.params.items()}
        u = self.times(items)
        x, y, angle, scale = motion_paths(self.motion[items], params, u)  # (N, T)
        grid = (torch.arange(size, dtype=torch.float32) + 0.5) / size
        px = grid[None, None, :] - x.reshape(-1, 1, 1)  # (N*T, 1, W)
        py = grid[None, :, None] - y.reshape(-1, 1, 1)  # (N*T, H, 1)
        px, py = px.expand(-1, size, size), py.expand(-1, size, size)
        radius = (self.radius[items, None] * scale).reshape(-1, 1, 1)
        shape = self.shape[items, None].expand(n, frames).reshape(-1, 1, 1)
        body, marker = shape_masks(shape, px, py, radius, angle.reshape(-1, 1, 1))
        colour = self.colour[items][:, None, :].expand(n, frames, 3).reshape(-1, 3, 1, 1)
        image = body[:, None].float() * colour * torch.where(marker, 0.45, 1.0)[:, None]
        clips = image.reshape(n, frames, 3, size, size).permute(0, 2, 1, 3, 4)
        return clips.round().clamp(0, 255).to(torch.uint8).contiguous()


# ====================================================================== digits
def load_sklearn_digits() -> tuple[Tensor, Tensor]:
    """The 1,797 real 8x8 digits bundled with scikit-learn: (N, 8, 8) in [0, 1], labels."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise DataError(
            "video.moving_digits needs scikit-learn (its bundled 8x8 digits): "
            "pip install 'genmm[data]' (or pip install scikit-learn)"
        )
    bunch = load_digits()
    return torch.as_tensor(bunch.images, dtype=torch.float32) / 16.0, torch.as_tensor(bunch.target)


class MovingDigits(MovingShapes):
    """scikit-learn's real handwritten digits moving like :class:`MovingShapes` (same motions,
    the motion as the label), one channel (``channels: 3`` tints them with a colour).

    Each clip draws one of the 1,797 digits; it is scaled to the clip's shape size, rotated
    and placed by the same motion paths.
    """

    registered_name = "video.moving_digits"

    def __init__(
        self,
        count: int = 2000,
        frames: int = 16,
        size: int = 64,
        frame_stride: int = 1,
        motions: list[str] | None = None,
        channels: int = 1,
        min_radius: float = 0.14,
        max_radius: float = 0.2,
        held_out: float = 0.2,
        conditional: bool = False,
        cache: bool = True,
        seed: int = 0,
    ) -> None:
        if channels not in (1, 3):
            raise DataError(f"{self.registered_name}: channels must be 1 or 3, got {channels}")
        digits, digit_labels = load_sklearn_digits()
        super().__init__(
            count=count,
            frames=frames,
            size=size,
            frame_stride=frame_stride,
            motions=motions,
            min_radius=min_radius,
            max_radius=max_radius,
            held_out=held_out,
            conditional=conditional,
            cache=cache,
            seed=seed,
        )
        self.arguments.pop("shapes"), self.arguments.pop("colours")
        self.arguments["channels"] = channels
        self.channels = channels
        generator = torch.Generator().manual_seed(seed + 31)
        self.digit = torch.randint(len(digits), (count,), generator=generator)
        self.digits, self.digit_labels = digits, digit_labels

    def _render(self, items: Tensor) -> Tensor:
        n, frames, size = len(items), self.frames, self.size
        params = {key: value[items] for key, value in self.params.items()}
        x, y, angle, scale = motion_paths(self.motion[items], params, self.times(items))
        radius = self.radius[items, None] * scale  # (N, T), half the digit's side
        # an affine sampling grid per frame: output pixel -> digit coordinates in [-1, 1]
        cos, sin = torch.cos(angle), torch.sin(angle)
        inverse = 1.0 / (2 * radius)  # frame units -> digit units
        theta = torch.zeros(n, frames, 2, 3)
        theta[..., 0, 0], theta[..., 0, 1] = cos * inverse, sin * inverse
        theta[..., 1, 0], theta[..., 1, 1] = -sin * inverse, cos * inverse
        # frame coordinates in [-1, 1] map to centre-relative ones: (p + 1) / 2 - centre
        cx, cy = 2 * x - 1, 2 * y - 1
        theta[..., 0, 2] = -(cos * cx + sin * cy) * inverse
        theta[..., 1, 2] = -(-sin * cx + cos * cy) * inverse
        source = self.digits[self.digit[items]][:, None, None].expand(n, frames, 1, 8, 8)
        grid = F.affine_grid(theta.reshape(-1, 2, 3), [n * frames, 1, size, size], False)
        image = F.grid_sample(
            source.reshape(-1, 1, 8, 8), grid, mode="bilinear", align_corners=False
        )  # (N*T, 1, H, W) in [0, 1]
        image = image * 255.0
        if self.channels == 3:
            palette = torch.tensor(list(COLOURS.values()), dtype=torch.float32) / 255.0
            tint = palette[self.digit[items] % len(palette)]
            image = image * tint[:, None, :, None, None].expand(n, frames, 3, 1, 1).reshape(
                -1, 3, 1, 1
            )
        clips = image.reshape(n, frames, self.channels, size, size).permute(0, 2, 1, 3, 4)
        return clips.round().clamp(0, 255).to(torch.uint8).contiguous()


# ====================================================================== folder
VIDEO_SUFFIXES = (".mp4", ".avi", ".webm", ".gif", ".mov", ".mkv")


def import_av() -> Any:
    try:
        import av
    except ImportError:
        raise DataError(
            "video files need PyAV: pip install 'genmm[video]' (or pip install av)"
        ) from None
    return av


def decode_clip(path: Path, frames: int, stride: int, size: int, channels: int) -> Tensor:
    """The first ``frames`` frames, every ``stride``-th, of ``path``, centre-cropped and resized
    to ``size``: uint8 ``(C, T, H, W)``. A file that does not decode or is too short raises a
    DataError naming it."""
    av = import_av()
    from PIL import Image

    wanted = (frames - 1) * stride + 1
    images: list[Tensor] = []
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                kinds = sorted({stream.type for stream in container.streams}) or ["none"]
                raise DataError(
                    f"{path}: holds no video stream (streams: {', '.join(kinds)}; "
                    f"{container.format.name} container); expected a clip"
                )
            for index, frame in enumerate(container.decode(video=0)):
                if index % stride == 0:
                    picture = frame.to_image().convert("L" if channels == 1 else "RGB")
                    side = min(picture.size)
                    left, top = (picture.width - side) // 2, (picture.height - side) // 2
                    picture = picture.crop((left, top, left + side, top + side))
                    picture = picture.resize((size, size), Image.Resampling.BILINEAR)
                    array = torch.frombuffer(bytearray(picture.tobytes()), dtype=torch.uint8)
                    images.append(array.reshape(size, size, channels).permute(2, 0, 1))
                if index + 1 >= wanted:
                    break
    except Exception as error:  # PyAV raises its own error types (InvalidDataError, ...)
        if isinstance(error, DataError):
            raise
        raise DataError(f"{path}: cannot decode video ({type(error).__name__}: {error})")
    if len(images) < frames:
        raise DataError(
            f"{path}: too short: {len(images)} frames at stride {stride}, {frames} needed "
            f"({wanted} decoded frames)"
        )
    return torch.stack(images, 1)


class VideoFolder(VideoDataset):
    """The user's clips (mp4, avi, webm, gif, mov, mkv) under ``root``, decoded with PyAV,
    centre-cropped and resized to ``size``, ``frames`` frames taken every ``frame_stride``-th.

    With ``labels: true`` each sub-folder is a class. A clip that does not decode or is shorter
    than asked is an error naming it, or, with ``skip_bad: true``, skipped and counted
    (``describe()["skipped"]``). Clips are decoded once, when the data set is built.
    """

    registered_name = "video.folder"

    def __init__(
        self,
        root: str,
        frames: int = 16,
        size: int = 64,
        frame_stride: int = 1,
        channels: int = 3,
        labels: bool = False,
        skip_bad: bool = False,
        held_out: float = 0.1,
        conditional: bool = False,
        seed: int = 0,
    ) -> None:
        super().__init__(conditional)
        if conditional and not labels:
            raise DataError("video.folder: conditional: true needs labels: true")
        if channels not in (1, 3):
            raise DataError(f"video.folder: channels must be 1 or 3, got {channels}")
        folder = Path(root)
        if not folder.is_dir():
            raise DataError(f"video folder '{folder}' does not exist (or is not a folder)")
        files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES)
        if not files:
            raise DataError(f"video folder '{folder}' holds no clips ({', '.join(VIDEO_SUFFIXES)})")
        self.arguments = {
            "root": str(folder.resolve()),
            "frames": frames,
            "size": size,
            "frame_stride": frame_stride,
            "channels": channels,
            "labels": labels,
            "held_out": held_out,
            "seed": seed,
        }
        self.frames, self.size, self.channels = frames, size, channels
        classes = sorted({p.parent.relative_to(folder).as_posix() for p in files}) if labels else []
        self.class_names = classes
        clips, label_list, self.skipped = [], [], []
        for path in files:
            try:
                clips.append(decode_clip(path, frames, frame_stride, size, channels))
            except DataError as error:
                if not skip_bad:
                    raise
                self.skipped.append(str(error))
                continue
            if labels:
                label_list.append(classes.index(path.parent.relative_to(folder).as_posix()))
        if self.skipped:
            log.warning("video.folder: skipped %d bad clips of %d", len(self.skipped), len(files))
        if not clips:
            raise DataError(f"video folder '{folder}': none of {len(files)} clips is usable")
        self.data = torch.stack(clips)
        self.labels = torch.tensor(label_list or [0] * len(clips), dtype=torch.long)
        if not labels:
            self.class_names = []
        self._finish(len(clips), held_out, seed)

    def render(self, items: Tensor) -> Tensor:
        return self.data[torch.as_tensor(items, dtype=torch.long)]

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "skipped": len(self.skipped)}
