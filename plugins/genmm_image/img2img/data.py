"""Paired image data for image-to-image translation: ``image.sketch_pairs`` (procedural
sketch -> shaded image pairs made from the plugin's shapes and scikit-learn's real digits) and
``image.pairs_folder`` (the user's own aligned pairs, the pix2pix layout).

Items are ``{"real": target (C, S, S), "condition": input (C_in, S, S)}``, float in [-1, 1]:
the input image is the condition the generator translates and the discriminator sees beside
the output, the target the ground truth. Both data sets are :class:`ImageDataset` s holding the
targets in ``images`` (so the image metrics' feature network is trained on them) and the
inputs in ``inputs``, with class labels, a train / held-out split fixed by the seed
(``held_out``) and a plain-data :meth:`describe` that adds ``input_channels``.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from genmm.errors import DataError
from genmm_image.data import (
    COLOURS,
    EXTENSIONS,
    SHAPES,
    ImageDataset,
    Split,
    centre_crop_resize,
    load_sklearn_digits,
    one_thread,
    sample_attributes,
    signed_distance,
    split_indices,
    to_float,
)

PAPER_WHITE = 0.96  # the sketch's paper and the target's background


class PairedDataset(ImageDataset):
    """Targets in ``images``, inputs in ``inputs`` (uint8, same count); batches are pairs."""

    registered_name = "image.paired"

    def __init__(self, split: str) -> None:
        super().__init__(conditional=True, split=split)
        self.inputs = torch.zeros(0, 3, 1, 1, dtype=torch.uint8)

    @property
    def input_channels(self) -> int:
        return int(self.inputs.shape[1])

    def get_batch(self, indices: list[int], single: bool = False) -> dict[str, Tensor]:
        index = torch.as_tensor(indices, dtype=torch.long)
        target, source = to_float(self.images[index]), to_float(self.inputs[index])
        if single:
            return {"real": target[0], "condition": source[0]}
        return {"real": target, "condition": source}

    def all_inputs(self) -> Tensor:
        """Every input image as float ``[-1, 1]``."""
        return to_float(self.inputs)

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "task": "image-to-image",
            "input_channels": self.input_channels,
        }


# ====================================================================== sketch pairs
def smooth_noise(coarse: Tensor, size: int) -> Tensor:
    """A smooth random field (N, size, size) in about [-1, 1] from lattice values (N, k, k) in
    [-1, 1], interpolated bicubically."""
    fine = F.interpolate(coarse.unsqueeze(1), size=(size, size), mode="bicubic", align_corners=True)
    return fine[:, 0]


#: the lattices of one pen pass: (name, cells) of the line's wander, its width and pressure
PEN_FIELDS = (("wander", 5), ("width", 4), ("pressure", 6))
PASSES = ((1.0, 1.0), (0.55, 0.7))  # (ink strength, width factor): a firm line, a light one


def pen_lattices(streams: list[torch.Generator]) -> dict[tuple[int, str], Tensor]:
    """Each item's random lattices, drawn from its own stream: {(pass, field): (N, k, k)}."""
    drawn: dict[tuple[int, str], list[Tensor]] = {}
    for stream in streams:
        for index in range(len(PASSES)):
            for name, cells in PEN_FIELDS:
                lattice = torch.rand(cells + index + 1, cells + index + 1, generator=stream)
                drawn.setdefault((index, name), []).append(lattice * 2 - 1)
    return {key: torch.stack(values) for key, values in drawn.items()}


def draw_strokes(
    distance: Tensor, lattices: dict[tuple[int, str], Tensor], jitter: float, stroke: tuple
) -> Tensor:
    """A hand-drawn outline of the zero level set of ``distance`` (N, S, S) in pixels: ink
    (N, S, S) in [0, 1]. Two passes of a pen whose line wanders (a smooth jitter of the level),
    whose width varies along the line and whose pressure fades in places; the second pass is
    lighter and thinner, as in a quick sketch."""
    size = distance.shape[-1]
    unit = size / 64.0  # jitter and widths are given in pixels at 64x64
    ink = torch.zeros_like(distance)
    for index, (strength, thinner) in enumerate(PASSES):
        wander = jitter * unit * smooth_noise(lattices[index, "wander"], size)
        share = ((smooth_noise(lattices[index, "width"], size) + 1) / 2).clamp(0, 1)
        width = (stroke[0] + (stroke[1] - stroke[0]) * share) * unit * thinner
        pressure = 0.8 + 0.5 * smooth_noise(lattices[index, "pressure"], size)
        line = (width / 2 + 0.5 - (distance - wander).abs()).clamp(0, 1)
        ink = torch.maximum(ink, strength * line * pressure.clamp(0.25, 1.0))
    return ink


def shape_distances(attributes: dict[str, Tensor], size: int) -> Tensor:
    """Signed distance in pixels (negative inside) of each scene's one shape: (N, S, S)."""
    count = len(attributes["shape"])
    centres = (torch.arange(size, dtype=torch.float32) + 0.5) / size
    grid_y, grid_x = torch.meshgrid(centres, centres, indexing="ij")
    cos = attributes["angle"].cos().view(count, 1, 1)
    sin = attributes["angle"].sin().view(count, 1, 1)
    dx = grid_x - attributes["x"].view(count, 1, 1)
    dy = grid_y - attributes["y"].view(count, 1, 1)
    px, py = cos * dx - sin * dy, sin * dx + cos * dy  # into the shape's frame
    radius = attributes["scale"].view(count, 1, 1)
    distance = torch.empty(count, size, size)
    for index, name in enumerate(SHAPES):
        chosen = attributes["shape"] == index
        if chosen.any():
            distance[chosen] = signed_distance(name, px[chosen], py[chosen], radius[chosen])
    return distance * size


def digit_distances(digits: Tensor, size: int) -> Tensor:
    """An approximate signed distance in pixels to the 0.5 level set of digits upsampled
    (bicubic, with a blank border of one cell so that every stroke closes) to 4/5 of ``size``
    and centred: (0.5 - I) / |grad I|, negative on the ink. (N, 8, 8) in [0, 1] -> (N, S, S)."""
    inner = max(10, round(0.8 * size))
    bordered = F.pad(digits.unsqueeze(1), (1, 1, 1, 1))
    ink = F.interpolate(bordered, size=(inner, inner), mode="bicubic", align_corners=False)
    before = (size - inner) // 2
    ink = F.pad(ink, (before, size - inner - before, before, size - inner - before))
    ink = ink.clamp(0, 1)[:, 0]
    gy, gx = torch.gradient(ink, dim=(1, 2))
    slope = torch.sqrt(gx * gx + gy * gy).clamp_min(1e-3)
    return ((0.5 - ink) / slope).clamp(-size, size)


def shade(distance: Tensor, colour: Tensor, centre: Tensor, radius: Tensor, size: int) -> Tensor:
    """The filled, shaded object on white: (N, 3, S, S) in [0, 1]. Lit from the top left (a
    highlight offset from the object's centre), darker towards its rim (a bevel)."""
    count = distance.shape[0]
    centres = (torch.arange(size, dtype=torch.float32) + 0.5) / size
    grid_y, grid_x = torch.meshgrid(centres, centres, indexing="ij")
    u = (grid_x - centre[:, 0].view(count, 1, 1)) / radius.view(count, 1, 1)
    v = (grid_y - centre[:, 1].view(count, 1, 1)) / radius.view(count, 1, 1)
    light = (1 - 0.45 * ((u + 0.4) ** 2 + (v + 0.4) ** 2)).clamp(0, 1)
    depth = (-distance / (0.18 * radius.view(count, 1, 1) * size)).clamp(0, 1)
    brightness = (0.45 + 0.55 * light) * (0.7 + 0.3 * depth)
    fill = (0.5 - distance).clamp(0, 1).unsqueeze(1)  # coverage, anti-aliased
    body = colour.view(count, 3, 1, 1) * brightness.unsqueeze(1)
    return PAPER_WHITE * (1 - fill) + body * fill


class SketchPairs(PairedDataset):
    """Sketches -> the filled, shaded images they outline, made procedurally (pix2pix's
    edges -> photo task, on data that needs no download).

    The objects are the plugin's five shapes (random colour, size, position, rotation; their
    exact signed distance) and scikit-learn's 1,797 real handwritten digits (upsampled; the
    distance to their ink's 0.5 level). The input is a pencil outline on white: two passes of
    jittered strokes of varying width and pressure (``jitter`` in pixels and ``stroke`` widths
    [min, max] in pixels, both at 64x64 and scaled with ``size``). The target is the object
    filled with its colour, lit from the top left and bevelled, on white. Labels: the shape or
    the digit (15 classes). Deterministic from the seed; a fraction ``held_out`` is kept apart.
    """

    registered_name = "image.sketch_pairs"

    def __init__(
        self,
        size: int = 64,
        shapes: int = 2000,
        digits: bool = True,
        jitter: float = 1.0,
        stroke: list[float] | None = None,
        held_out: float = 0.1,
        split: Split = "train",
        seed: int = 0,
    ) -> None:
        super().__init__(split)
        stroke = list(stroke) if stroke is not None else [0.6, 2.2]
        if size < 8 or shapes < 0 or (shapes == 0 and not digits):
            raise DataError("image.sketch_pairs: need size >= 8 and some shapes or digits")
        if len(stroke) != 2 or not 0 < stroke[0] <= stroke[1] or jitter < 0:
            raise DataError("image.sketch_pairs: stroke is [min, max] widths > 0, jitter >= 0")
        self.arguments = dict(
            size=size,
            shapes=shapes,
            digits=digits,
            jitter=jitter,
            stroke=stroke,
            held_out=held_out,
            split=split,
            seed=seed,
        )
        generator = torch.Generator().manual_seed(seed)
        attributes = sample_attributes(shapes, generator, rotation=True)
        palette = torch.tensor(list(COLOURS.values()))[:-2]  # not white, not orange (~yellow)
        colours = attributes["colour"] % len(palette)
        digit_images, digit_labels = load_sklearn_digits() if digits else (None, None)
        n_digits = 0 if digit_images is None else len(digit_images)
        digit_colours = torch.randint(len(palette), (n_digits,), generator=generator)
        noise_seed = int(torch.randint(2**31 - 1, (1,), generator=generator))
        chosen = split_indices(shapes + n_digits, held_out, seed, split)
        inputs, targets, labels = [], [], []
        with one_thread():
            for start in range(0, len(chosen), 256):
                part = chosen[start : start + 256]
                # each item's strokes come from its own stream: the same in every split
                streams = [torch.Generator().manual_seed(noise_seed + int(i)) for i in part]
                sketch, target, label = self._render(
                    part, shapes, attributes, colours, digit_images, digit_labels,
                    digit_colours, palette, streams,
                )  # fmt: skip
                inputs.append(sketch)
                targets.append(target)
                labels.append(label)
        empty = torch.zeros(0, 3, size, size, dtype=torch.uint8)
        self.inputs = torch.cat(inputs) if inputs else empty
        self.images = torch.cat(targets) if targets else empty
        self.labels = torch.cat(labels) if labels else torch.zeros(0, dtype=torch.long)
        self.class_names = list(SHAPES) + [f"digit {d}" for d in range(10)]

    def _render(self, part, shapes, attributes, colours, digit_images, digit_labels,
                digit_colours, palette, streams):  # fmt: skip
        size = self.arguments["size"]
        jitter, stroke = self.arguments["jitter"], tuple(self.arguments["stroke"])
        distances, colour_rows, centres, radii, labels = [], [], [], [], []
        is_shape = part < shapes
        if is_shape.any():
            index = part[is_shape]
            chosen = {k: v[index] for k, v in attributes.items()}
            distances.append(shape_distances(chosen, size))
            colour_rows.append(palette[colours[index]])
            centres.append(torch.stack([chosen["x"], chosen["y"]], 1))
            radii.append(chosen["scale"])
            labels.append(chosen["shape"])
        if (~is_shape).any():
            index = part[~is_shape] - shapes
            distances.append(digit_distances(digit_images[index] / 16.0, size))
            colour_rows.append(palette[digit_colours[index]])
            centres.append(torch.full((len(index), 2), 0.5))
            radii.append(torch.full((len(index),), 0.3))
            labels.append(len(SHAPES) + digit_labels[index])
        order = torch.cat([torch.nonzero(is_shape)[:, 0], torch.nonzero(~is_shape)[:, 0]])
        restore = torch.argsort(order)  # back to the order of ``part``
        distance = torch.cat(distances)[restore]
        target = shade(
            distance, torch.cat(colour_rows)[restore], torch.cat(centres)[restore],
            torch.cat(radii)[restore], size,
        )  # fmt: skip
        ink = draw_strokes(distance, pen_lattices(streams), jitter, stroke)
        sketch = (PAPER_WHITE * (1 - ink)).unsqueeze(1).expand(-1, 3, -1, -1)
        as_bytes = lambda x: (x.clamp(0, 1) * 255).round().to(torch.uint8)  # noqa: E731
        return as_bytes(sketch), as_bytes(target), torch.cat(labels)[restore].long()


# ====================================================================== the user's pairs
def open_image(path: Path, mode: str) -> Any:
    """A decoded Pillow image in ``mode``, or a :class:`DataError` naming the file."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as handle:
            image = handle.convert(mode)
            image.load()
            return image
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise DataError(f"{path}: cannot decode image ({error})")


def image_tensor(image: Any, size: int, channels: int) -> Tensor:
    """A Pillow image, resized on its shorter side and centre-cropped -> uint8 (C, S, S)."""
    image = centre_crop_resize(image, size)
    array = torch.frombuffer(bytearray(image.tobytes()), dtype=torch.uint8)
    return array.view(size, size, channels).permute(2, 0, 1).clone()


def image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in EXTENSIONS)


class PairsFolder(PairedDataset):
    """The user's aligned pairs, in either of the pix2pix layouts:

    * ``root/*.png`` (recursive): each file is the two images side by side, A | B (the
      authors' aligned layout); its width must be even;
    * ``root/A/`` and ``root/B/``: the same file names in both, each pair the same size.

    ``direction: AtoB`` translates A into B (``BtoA`` the other way). Each image is resized on
    its shorter side to ``size`` and centre-cropped, both of a pair alike. With ``labels:
    true`` the first sub-folder is the class. Errors name the file: one that does not decode,
    an odd width, a pair of different sizes, a missing partner, an empty folder
    (``strict: false`` skips a bad file with a warning instead).
    """

    registered_name = "image.pairs_folder"

    def __init__(
        self,
        root: str,
        size: int = 256,
        channels: int = 3,
        direction: Literal["AtoB", "BtoA"] = "AtoB",
        labels: bool = False,
        strict: bool = True,
        held_out: float = 0.1,
        split: Split = "train",
        seed: int = 0,
    ) -> None:
        super().__init__(split)
        if channels not in (1, 3):
            raise DataError(f"image.pairs_folder: channels must be 1 or 3, got {channels}")
        if direction not in ("AtoB", "BtoA"):
            raise DataError(f"image.pairs_folder: direction must be AtoB or BtoA, got {direction}")
        self.arguments = dict(
            root=root,
            size=size,
            channels=channels,
            direction=direction,
            labels=labels,
            strict=strict,
            held_out=held_out,
            split=split,
            seed=seed,
        )
        folder = Path(root)
        if not folder.is_dir():
            raise DataError(f"pairs folder '{folder}' does not exist (or is not a folder)")
        self.mode = "RGB" if channels == 3 else "L"
        separate = (folder / "A").is_dir() and (folder / "B").is_dir()
        pairs = self._separate(folder) if separate else self._side_by_side(folder)
        if not pairs:
            raise DataError(f"pairs folder '{folder}': no pair could be read")
        a_images = torch.stack([a for a, _, _ in pairs])
        b_images = torch.stack([b for _, b, _ in pairs])
        files = [path for _, _, path in pairs]
        relative = [path.relative_to(folder).parts for path in files]
        if separate:
            relative = [parts[1:] for parts in relative]  # below A/
        classes = [parts[0] if len(parts) > 1 else "." for parts in relative]
        self.class_names = sorted(set(classes)) if labels else ["all"]
        lookup = {name: i for i, name in enumerate(self.class_names)}
        all_labels = torch.tensor([lookup[c] if labels else 0 for c in classes])
        chosen = split_indices(len(pairs), held_out, seed, split)
        if len(chosen) == 0:
            raise DataError(f"pairs folder '{folder}': the '{split}' split is empty")
        source, target = (a_images, b_images) if direction == "AtoB" else (b_images, a_images)
        self.inputs, self.images = source[chosen], target[chosen]
        self.labels = all_labels[chosen]
        self.files = [files[i] for i in chosen.tolist()]

    def _bad(self, message: str) -> None:
        if self.arguments["strict"]:
            raise DataError(message)
        warnings.warn(f"skipping: {message}", stacklevel=3)

    def _side_by_side(self, folder: Path) -> list[tuple[Tensor, Tensor, Path]]:
        files = image_files(folder)
        if not files:
            raise DataError(
                f"pairs folder '{folder}' holds no images ({', '.join(EXTENSIONS)}, recursive; "
                "A|B images side by side, or A/ and B/ folders)"
            )
        size, channels, pairs = self.arguments["size"], self.arguments["channels"], []
        for path in files:
            try:
                image = open_image(path, self.mode)
            except DataError as error:
                self._bad(str(error))
                continue
            width, height = image.size
            if width % 2:
                self._bad(
                    f"{path}: width {width} is odd; an A|B pair is two images of the same size "
                    "side by side, so its width is even"
                )
                continue
            half = width // 2
            a, b = image.crop((0, 0, half, height)), image.crop((half, 0, width, height))
            pairs.append((image_tensor(a, size, channels), image_tensor(b, size, channels), path))
        return pairs

    def _separate(self, folder: Path) -> list[tuple[Tensor, Tensor, Path]]:
        a_files, b_files = image_files(folder / "A"), image_files(folder / "B")
        if not a_files:
            raise DataError(f"pairs folder '{folder / 'A'}' holds no images")
        partners = {p.relative_to(folder / "B").with_suffix(""): p for p in b_files}
        size, channels, pairs = self.arguments["size"], self.arguments["channels"], []
        for a_path in a_files:
            key = a_path.relative_to(folder / "A").with_suffix("")
            b_path = partners.get(key)
            if b_path is None:
                self._bad(f"{a_path}: no partner in {folder / 'B'} (the same name is expected)")
                continue
            try:
                a, b = open_image(a_path, self.mode), open_image(b_path, self.mode)
            except DataError as error:
                self._bad(str(error))
                continue
            if a.size != b.size:
                self._bad(
                    f"{a_path} is {a.size[0]}x{a.size[1]} but {b_path} is "
                    f"{b.size[0]}x{b.size[1]}: the two images of a pair must be the same size"
                )
                continue
            pairs.append((image_tensor(a, size, channels), image_tensor(b, size, channels), a_path))
        return pairs
