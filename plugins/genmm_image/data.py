"""Image data sets: ``image.digits`` (scikit-learn's real 8x8 digits), ``image.shapes``
(procedural shapes rendered at any resolution) and ``image.folder`` (the user's own files).

Every data set holds its images as ``uint8`` tensors ``(N, C, H, W)`` and hands out batches
as ``{"real": float in [-1, 1]}`` plus ``"condition"`` (the class label) when the recipe asks
for conditional data. All of them keep class labels (``labels``, ``num_classes``,
``class_names``) so that image metrics can classify samples, and a fixed train / held-out
split drawn from the seed: ``held_out`` is the fraction kept apart and :meth:`held_out_set`
returns those items. :meth:`describe` gives the facts models and writers are built from
(image size, channels, classes) as plain data.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import warnings
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from genmm.errors import DataError

log = logging.getLogger(__name__)

SPLITS = ("train", "held_out", "all")
Split = Literal["train", "held_out", "all"]


def split_indices(count: int, held_out: float, seed: int, split: str) -> Tensor:
    """Indices of ``split`` in a permutation of ``count`` items fixed by ``seed``."""
    if split not in SPLITS:
        raise DataError(f"split must be one of {', '.join(SPLITS)}, got '{split}'")
    if not 0.0 <= held_out < 1.0:
        raise DataError(f"held_out must be a fraction in [0, 1), got {held_out}")
    order = torch.randperm(count, generator=torch.Generator().manual_seed(seed + 104_729))
    cut = int(round(count * held_out))
    if split == "held_out":
        return order[:cut].sort().values
    if split == "train":
        return order[cut:].sort().values
    return torch.arange(count)


@contextlib.contextmanager
def one_thread():
    """Small element-wise work (rendering) runs faster on one thread than fighting for cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def to_float(images: Tensor) -> Tensor:
    """uint8 ``[0, 255]`` -> float32 ``[-1, 1]``."""
    return images.float().mul_(2.0 / 255.0).sub_(1.0)


def to_uint8(images: Tensor) -> Tensor:
    """float ``[-1, 1]`` -> uint8 ``[0, 255]`` (clamped)."""
    return ((images.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


class ImageDataset(torch.utils.data.Dataset):
    """Images in memory with class labels; the base of every ``image.*`` data set.

    Subclasses fill ``images`` (uint8 ``(N, C, H, W)``), ``labels`` (long ``(N,)``),
    ``class_names`` and ``arguments`` (what rebuilds them, for :meth:`held_out_set` and for
    the cache key of the feature network).
    """

    registered_name = "image.dataset"

    def __init__(self, conditional: bool, split: str) -> None:
        self.conditional = conditional
        self.split = split
        self.images = torch.zeros(0, 1, 1, 1, dtype=torch.uint8)
        self.labels = torch.zeros(0, dtype=torch.long)
        self.class_names: list[str] = []
        self.arguments: dict[str, Any] = {}
        self.skipped: list[str] = []  # the user's files left out (``strict: false``), why
        self._held_out: ImageDataset | None = None

    # ------------------------------------------------------------ shape facts
    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def channels(self) -> int:
        return int(self.images.shape[1])

    @property
    def image_size(self) -> int:
        return int(self.images.shape[-1])

    # ------------------------------------------------------------ map-style access
    def __len__(self) -> int:
        return int(self.images.shape[0])

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        return self.get_batch([index], single=True)

    def get_batch(self, indices: list[int], single: bool = False) -> dict[str, Tensor]:
        index = torch.as_tensor(indices, dtype=torch.long)
        real = to_float(self.images[index])
        batch = {"real": real[0] if single else real}
        if self.conditional:
            labels = self.labels[index]
            batch["condition"] = labels[0] if single else labels
        return batch

    def all_images(self) -> Tensor:
        """Every image as float ``[-1, 1]``."""
        return to_float(self.images)

    def describe(self) -> dict[str, Any]:
        """The facts models, metrics and writers are built from, as plain data (saved with
        every checkpoint, so ``genmm generate`` rebuilds the models without the data)."""
        return {
            "modality": "image",
            "image_size": self.image_size,
            "channels": self.channels,
            "num_classes": self.num_classes,
            "class_names": list(self.class_names),
            "conditional": self.conditional,
            "held_out": float(self.arguments.get("held_out", 0.0)),
            "items": len(self),
        }

    # ------------------------------------------------------------ splits and identity
    def held_out_set(self) -> ImageDataset:
        """The held-out items (a fraction ``held_out`` of the data, fixed by the seed), in the
        same item format as the training items; built once."""
        if self.split == "held_out":
            return self
        if self._held_out is None:
            self._held_out = self.other_split("held_out")
        return self._held_out

    def other_split(self, split: str) -> ImageDataset:
        """The same data set, another part of its fixed split (``train``/``held_out``/``all``)."""
        if split == self.split:
            return self
        return type(self)(**{**self.arguments, "split": split})

    def identity(self) -> str:
        """A short hash of what defines the images (name, arguments, seed; not the split)."""
        key = {
            ("heldout" if k == "held_out" else k): v  # the earlier name: cache keys stay valid
            for k, v in self.arguments.items()
            if k not in ("split", "conditional")
        }
        text = json.dumps({"name": self.registered_name, **key}, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:12]


# ====================================================================== digits
def load_sklearn_digits() -> tuple[Tensor, Tensor]:
    """The 1,797 real 8x8 digits bundled with scikit-learn: (N, 8, 8) in [0, 16], labels."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise DataError(
            "image.digits needs scikit-learn (its bundled 8x8 digits): pip install 'genmm[data]'"
        )
    bunch = load_digits()
    images = torch.as_tensor(bunch.images, dtype=torch.float32)
    return images, torch.as_tensor(bunch.target, dtype=torch.long)


class Digits(ImageDataset):
    """The 1,797 real 8x8 handwritten digits of scikit-learn, upsampled to ``size``.

    Labels 0-9 (``conditional: true`` hands them out as the condition). A fraction
    ``held_out`` is kept apart by a permutation fixed by the seed.
    """

    registered_name = "image.digits"

    def __init__(
        self,
        size: int = 32,
        channels: int = 1,
        held_out: float = 0.2,
        split: Split = "train",
        conditional: bool = False,
        seed: int = 0,
    ) -> None:
        super().__init__(conditional, split)
        if size < 8 or channels not in (1, 3):
            raise DataError(f"image.digits: size must be >= 8 and channels 1 or 3 (got {size})")
        self.arguments = dict(
            size=size,
            channels=channels,
            held_out=held_out,
            split=split,
            conditional=conditional,
            seed=seed,
        )
        raw, labels = load_sklearn_digits()
        chosen = split_indices(len(raw), held_out, seed, split)
        images = raw[chosen].unsqueeze(1) / 16.0  # (N, 1, 8, 8) in [0, 1]
        if size != 8:
            images = F.interpolate(images, size=(size, size), mode="bicubic", align_corners=False)
        images = images.clamp(0, 1).expand(-1, channels, -1, -1)
        self.images = (images * 255).round().to(torch.uint8).contiguous()
        self.labels = labels[chosen]
        self.class_names = [str(d) for d in range(10)]


# ====================================================================== shapes
SHAPES = ("circle", "square", "triangle", "cross", "ring")
COLOURS = {
    "red": (0.90, 0.10, 0.10),
    "green": (0.10, 0.80, 0.20),
    "blue": (0.15, 0.35, 0.95),
    "yellow": (0.95, 0.85, 0.10),
    "magenta": (0.85, 0.15, 0.85),
    "cyan": (0.10, 0.85, 0.90),
    "white": (0.95, 0.95, 0.95),
    "orange": (0.95, 0.55, 0.10),
}
ATTRIBUTES = ("shape", "colour", "scale", "x", "y", "angle")


def _box(px: Tensor, py: Tensor, half_x: Tensor, half_y: Tensor) -> Tensor:
    qx, qy = px.abs() - half_x, py.abs() - half_y
    outside = torch.sqrt(qx.clamp_min(0) ** 2 + qy.clamp_min(0) ** 2)
    return outside + torch.maximum(qx, qy).clamp_max(0)


def _triangle(px: Tensor, py: Tensor, r: Tensor) -> Tensor:
    """Signed distance to an upright equilateral triangle of circumradius ``r``."""
    k = math.sqrt(3.0)
    side = r * k  # edge length of the triangle whose circumradius is r
    half = side / 2
    px = px.abs() - half
    py = -py + half / k  # y grows downwards in images: flip so the apex points up
    fold = px + k * py > 0
    px, py = (
        torch.where(fold, (px - k * py) / 2, px),
        torch.where(fold, (-k * px - py) / 2, py),
    )
    px = px - px.clamp(min=-2 * half, max=torch.zeros_like(half))
    return -torch.sqrt(px * px + py * py) * torch.sign(py)


def signed_distance(shape: str, px: Tensor, py: Tensor, r: Tensor) -> Tensor:
    """Signed distance (negative inside) of ``shape`` of radius ``r`` centred at the origin."""
    if shape == "circle":
        return torch.sqrt(px * px + py * py) - r
    if shape == "square":
        return _box(px, py, 0.8 * r, 0.8 * r)
    if shape == "triangle":
        return _triangle(px, py, r)
    if shape == "cross":
        return torch.minimum(_box(px, py, r, 0.32 * r), _box(px, py, 0.32 * r, r))
    if shape == "ring":
        return (torch.sqrt(px * px + py * py) - 0.72 * r).abs() - 0.28 * r
    raise DataError(f"unknown shape '{shape}' (valid: {', '.join(SHAPES)})")


def render(
    attributes: dict[str, Tensor],
    size: int,
    shapes: tuple[str, ...] | list[str] = SHAPES,
    colours: tuple[str, ...] | list[str] = tuple(COLOURS),
    background: tuple[float, float, float] = (0.0, 0.0, 0.0),
) -> Tensor:
    """Render scenes: attribute tensors ``(N,)`` (one object) or ``(N, K)`` (K objects, drawn
    in order) -> float images ``(N, 3, size, size)`` in ``[0, 1]``, anti-aliased.

    Attributes: ``shape`` and ``colour`` (indices into ``shapes`` / ``colours``), ``scale``
    (radius as a fraction of the side), ``x``, ``y`` (centre in ``[0, 1]``, y downwards) and
    ``angle`` (radians, counter-clockwise).
    """
    shape_index = attributes["shape"]
    if shape_index.dim() == 1:
        attributes = {k: v.unsqueeze(1) for k, v in attributes.items()}
    count, objects = attributes["shape"].shape
    centres = (torch.arange(size, dtype=torch.float32) + 0.5) / size
    grid_y, grid_x = torch.meshgrid(centres, centres, indexing="ij")  # (H, W)
    palette = torch.tensor([COLOURS[c] for c in colours], dtype=torch.float32)
    canvas = torch.tensor(background, dtype=torch.float32).view(1, 3, 1, 1)
    canvas = canvas.expand(count, 3, size, size).clone()

    def view(name: str, k: int) -> Tensor:
        return attributes[name][:, k].float().view(count, 1, 1)

    for k in range(objects):
        angle = attributes.get("angle", torch.zeros(count, objects))[:, k].float()
        cos, sin = angle.cos().view(count, 1, 1), angle.sin().view(count, 1, 1)
        dx, dy = grid_x - view("x", k), grid_y - view("y", k)  # (N, H, W)
        px, py = cos * dx - sin * dy, sin * dx + cos * dy  # rotate into the shape's frame
        radius = view("scale", k)
        distance = torch.empty(count, size, size)
        for index, name in enumerate(shapes):
            chosen = attributes["shape"][:, k] == index
            if chosen.any():
                distance[chosen] = signed_distance(name, px[chosen], py[chosen], radius[chosen])
        alpha = (0.5 - distance * size).clamp(0, 1).unsqueeze(1)  # pixel coverage (N,1,H,W)
        colour = palette[attributes["colour"][:, k].long()].view(count, 3, 1, 1)
        canvas = canvas * (1 - alpha) + colour * alpha
    return canvas


def render_scene(
    objects: list[dict[str, Any]] | dict[str, Any],
    size: int = 64,
    background: tuple[float, float, float] = (0.0, 0.0, 0.0),
) -> Tensor:
    """One scene from attributes by name, e.g. ``{"shape": "circle", "colour": "red",
    "scale": 0.2, "x": 0.5, "y": 0.5, "angle": 0.0}`` (or a list of such objects, drawn in
    order) -> float image ``(3, size, size)`` in ``[0, 1]``."""
    objects = [objects] if isinstance(objects, dict) else list(objects)
    columns: dict[str, list[float]] = {name: [] for name in ATTRIBUTES}
    for item in objects:
        columns["shape"].append(SHAPES.index(item["shape"]))
        columns["colour"].append(list(COLOURS).index(item["colour"]))
        for name, default in (("scale", 0.25), ("x", 0.5), ("y", 0.5), ("angle", 0.0)):
            columns[name].append(float(item.get(name, default)))
    attributes = {k: torch.tensor([v]) for k, v in columns.items()}
    return render(attributes, size, background=background)[0]


def caption(shape: str, colour: str, scale: float, x: float, y: float) -> str:
    """A caption of one object, e.g. ``"a large red circle at the top left"``."""
    size = "small" if scale < 0.2 else ("large" if scale > 0.3 else "medium")
    row = "top" if y < 1 / 3 else ("bottom" if y > 2 / 3 else "middle")
    column = "left" if x < 1 / 3 else ("right" if x > 2 / 3 else "centre")
    where = "in the centre" if (row, column) == ("middle", "centre") else f"at the {row} {column}"
    return f"a {size} {colour} {shape} {where}"


def sample_attributes(
    count: int,
    generator: torch.Generator,
    shapes: int = len(SHAPES),
    colours: int = len(COLOURS),
    min_scale: float = 0.15,
    max_scale: float = 0.35,
    rotation: bool = False,
    objects: int = 1,
) -> dict[str, Tensor]:
    """Random attributes ``(count,)`` (or ``(count, objects)``), centres keeping shapes inside."""
    shape = (count,) if objects == 1 else (count, objects)
    scale = min_scale + (max_scale - min_scale) * torch.rand(shape, generator=generator)
    return {
        "shape": torch.randint(shapes, shape, generator=generator),
        "colour": torch.randint(colours, shape, generator=generator),
        "scale": scale,
        "x": scale + (1 - 2 * scale) * torch.rand(shape, generator=generator),
        "y": scale + (1 - 2 * scale) * torch.rand(shape, generator=generator),
        "angle": (
            2 * math.pi * torch.rand(shape, generator=generator) if rotation else torch.zeros(shape)
        ),
    }


class Shapes(ImageDataset):
    """Procedural shapes (circle, square, triangle, cross, ring) of random colour, size,
    position and optional rotation, rendered anti-aliased at any ``size``; deterministic from
    the seed. Every attribute is kept (``attributes``); ``label`` names the one used as the
    class (``shape`` or ``colour``). ``render`` / ``render_scene`` / ``sample_attributes`` are
    the building blocks other plugins reach through the registry (moving shapes, captions:
    ``caption``).
    """

    registered_name = "image.shapes"
    render = staticmethod(render)
    render_scene = staticmethod(render_scene)
    sample_attributes = staticmethod(sample_attributes)
    caption = staticmethod(caption)

    def __init__(
        self,
        size: int = 32,
        count: int = 10000,
        shapes: list[str] | None = None,
        colours: list[str] | None = None,
        min_scale: float = 0.15,
        max_scale: float = 0.35,
        rotation: bool = False,
        objects: int = 1,
        background: list[float] | None = None,
        label: str = "shape",
        held_out: float = 0.1,
        split: Split = "train",
        conditional: bool = False,
        seed: int = 0,
    ) -> None:
        super().__init__(conditional, split)
        self.shape_names = tuple(shapes or SHAPES)
        self.colour_names = tuple(colours or COLOURS)
        for name in self.shape_names:
            if name not in SHAPES:
                raise DataError(f"image.shapes: unknown shape '{name}' (valid: {SHAPES})")
        for name in self.colour_names:
            if name not in COLOURS:
                raise DataError(f"image.shapes: unknown colour '{name}' (valid: {list(COLOURS)})")
        if label not in ("shape", "colour"):
            raise DataError(f"image.shapes: label must be 'shape' or 'colour', got '{label}'")
        if not 0 < min_scale <= max_scale < 0.5 or size < 4 or count < 1 or objects < 1:
            raise DataError("image.shapes: need 0 < min_scale <= max_scale < 0.5, size >= 4")
        self.arguments = dict(
            size=size,
            count=count,
            shapes=list(self.shape_names),
            colours=list(self.colour_names),
            min_scale=min_scale,
            max_scale=max_scale,
            rotation=rotation,
            objects=objects,
            background=background,
            label=label,
            held_out=held_out,
            split=split,
            conditional=conditional,
            seed=seed,
        )
        generator = torch.Generator().manual_seed(seed)
        attributes = sample_attributes(
            count,
            generator,
            len(self.shape_names),
            len(self.colour_names),
            min_scale,
            max_scale,
            rotation,
            objects,
        )
        chosen = split_indices(count, held_out, seed, split)
        self.attributes = {k: v[chosen] for k, v in attributes.items()}
        chunks = []
        with one_thread():
            for start in range(0, len(chosen), 256):
                part = {k: v[start : start + 256] for k, v in self.attributes.items()}
                colour = tuple(background or (0, 0, 0))
                image = render(part, size, self.shape_names, self.colour_names, colour)
                chunks.append((image * 255).round().to(torch.uint8))
        self.images = torch.cat(chunks) if chunks else torch.zeros(0, 3, size, size).byte()
        first = self.attributes[label] if objects == 1 else self.attributes[label][:, 0]
        self.labels = first.long()
        self.class_names = list(self.shape_names if label == "shape" else self.colour_names)

    def captions(self) -> list[str]:
        """One caption per image (first object), for text-to-image data."""
        a = {k: (v if v.dim() == 1 else v[:, 0]) for k, v in self.attributes.items()}
        return [
            caption(
                self.shape_names[int(a["shape"][i])],
                self.colour_names[int(a["colour"][i])],
                float(a["scale"][i]),
                float(a["x"][i]),
                float(a["y"][i]),
            )
            for i in range(len(self))
        ]


# ====================================================================== folder
EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp")


def centre_crop_resize(image: Any, size: int) -> Any:
    """Resize the shorter side to ``size`` (bicubic), then crop the centre square."""
    from PIL import Image

    width, height = image.size
    scale = size / min(width, height)
    new = (max(size, round(width * scale)), max(size, round(height * scale)))
    image = image.resize(new, Image.Resampling.BICUBIC)
    left, top = (new[0] - size) // 2, (new[1] - size) // 2
    return image.crop((left, top, left + size, top + size))


class Folder(ImageDataset):
    """The user's images (png/jpg/webp/bmp, searched recursively), resized and centre-cropped
    to ``size``. With ``labels: true`` the first sub-folder under ``root`` is the class. A file
    that does not decode is named in a warning and skipped, and counted (``skipped``: one
    message per file; an error with ``strict: true``)."""

    registered_name = "image.folder"

    def __init__(
        self,
        root: str,
        size: int = 64,
        channels: int = 3,
        labels: bool = False,
        strict: bool = False,
        held_out: float = 0.1,
        split: Split = "train",
        conditional: bool = False,
        seed: int = 0,
    ) -> None:
        from PIL import Image, UnidentifiedImageError

        super().__init__(conditional, split)
        if conditional and not labels:
            raise DataError("image.folder: conditional: true needs labels: true")
        if channels not in (1, 3):
            raise DataError(f"image.folder: channels must be 1 or 3, got {channels}")
        self.arguments = dict(
            root=root,
            size=size,
            channels=channels,
            labels=labels,
            strict=strict,
            held_out=held_out,
            split=split,
            conditional=conditional,
            seed=seed,
        )
        folder = Path(root)
        if not folder.is_dir():
            raise DataError(f"image folder '{folder}' does not exist (or is not a folder)")
        files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in EXTENSIONS)
        if not files:
            raise DataError(
                f"image folder '{folder}' holds no images ({', '.join(EXTENSIONS)}, recursive)"
            )
        mode = "RGB" if channels == 3 else "L"
        decoded: list[Tensor] = []
        classes: list[str] = []
        kept: list[Path] = []
        self.skipped: list[str] = []
        for path in files:
            try:
                with Image.open(path) as handle:
                    image = centre_crop_resize(handle.convert(mode), size)
            except (UnidentifiedImageError, OSError, ValueError) as error:
                if strict:
                    raise DataError(f"{path}: cannot decode image ({error})")
                warnings.warn(f"skipping {path}: cannot decode image ({error})", stacklevel=2)
                self.skipped.append(f"{path}: cannot decode image ({error})")
                continue
            array = torch.frombuffer(bytearray(image.tobytes()), dtype=torch.uint8)
            decoded.append(array.view(size, size, channels).permute(2, 0, 1).clone())
            relative = path.relative_to(folder).parts
            classes.append(relative[0] if len(relative) > 1 else ".")
            kept.append(path)
        if self.skipped:
            log.warning("image folder '%s': skipped %d of %d files", folder, len(self.skipped),
                        len(files))  # fmt: skip
        if not decoded:
            raise DataError(f"image folder '{folder}': none of {len(files)} files decodes")
        self.class_names = sorted(set(classes)) if labels else ["all"]
        index = {name: i for i, name in enumerate(self.class_names)}
        all_labels = torch.tensor([index[c] if labels else 0 for c in classes])
        chosen = split_indices(len(decoded), held_out, seed, split)
        if len(chosen) == 0:
            raise DataError(f"image folder '{folder}': the '{split}' split is empty")
        self.images = torch.stack(decoded)[chosen]
        self.labels = all_labels[chosen]
        self.files = [kept[i] for i in chosen.tolist()]
