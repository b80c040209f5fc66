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

import logging
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

log = logging.getLogger(__name__)

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


def as_bytes(images: Tensor) -> Tensor:
    """Float images in [0, 1] -> uint8."""
    return (images.clamp(0, 1) * 255).round().to(torch.uint8)


def object_fields(part, shapes, attributes, colours, digit_images, digit_labels, digit_colours,
                  palette, size):  # fmt: skip
    """The objects of items ``part`` (shape scenes first, then digits): their signed distance
    (N, S, S) in pixels, colour (N, 3), centre (N, 2), radius (N,) and label (N,)."""
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
    return (
        torch.cat(distances)[restore],
        torch.cat(colour_rows)[restore],
        torch.cat(centres)[restore],
        torch.cat(radii)[restore],
        torch.cat(labels)[restore].long(),
    )


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
        distance, colour, centre, radius, labels = object_fields(
            part, shapes, attributes, colours, digit_images, digit_labels, digit_colours,
            palette, size,
        )  # fmt: skip
        target = shade(distance, colour, centre, radius, size)
        ink = draw_strokes(distance, pen_lattices(streams), jitter, stroke)
        sketch = (PAPER_WHITE * (1 - ink)).unsqueeze(1).expand(-1, 3, -1, -1)
        return as_bytes(sketch), as_bytes(target), labels


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
        self.skipped: list[str] = []
        separate = (folder / "A").is_dir() and (folder / "B").is_dir()
        pairs = self._separate(folder) if separate else self._side_by_side(folder)
        if self.skipped:
            log.warning("pairs folder '%s': skipped %d bad files", folder, len(self.skipped))
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
        self.skipped.append(message)

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


# ====================================================================== procedural objects
class ObjectScenes:
    """The objects of ``image.sketch_pairs`` (the plugin's five shapes with a random colour,
    size, position and rotation, then scikit-learn's real digits in a random colour), drawn
    the same way from the seed, painted by any ``paint(distance, colour, centre, radius,
    size) -> (N, 3, S, S)`` in [0, 1]."""

    class_names = list(SHAPES) + [f"digit {d}" for d in range(10)]

    def __init__(self, size: int, shapes: int, digits: bool, seed: int, name: str) -> None:
        if size < 8 or shapes < 0 or (shapes == 0 and not digits):
            raise DataError(f"{name}: need size >= 8 and some shapes or digits")
        self.size, self.shapes = size, shapes
        generator = torch.Generator().manual_seed(seed)
        self.attributes = sample_attributes(shapes, generator, rotation=True)
        self.palette = torch.tensor(list(COLOURS.values()))[:-2]  # not white, not orange
        self.colours = self.attributes["colour"] % len(self.palette)
        self.digit_images, self.digit_labels = load_sklearn_digits() if digits else (None, None)
        n_digits = 0 if self.digit_images is None else len(self.digit_images)
        self.digit_colours = torch.randint(len(self.palette), (n_digits,), generator=generator)
        self.count = shapes + n_digits

    def render(self, chosen: Tensor, paint) -> tuple[Tensor, Tensor]:
        """uint8 images (N, 3, S, S) and labels (N,) of the items ``chosen``."""
        images, labels = [], []
        with one_thread():
            for start in range(0, len(chosen), 256):
                distance, colour, centre, radius, label = object_fields(
                    chosen[start : start + 256], self.shapes, self.attributes, self.colours,
                    self.digit_images, self.digit_labels, self.digit_colours, self.palette,
                    self.size,
                )  # fmt: skip
                images.append(as_bytes(paint(distance, colour, centre, radius, self.size)))
                labels.append(label)
        if not images:
            return torch.zeros(0, 3, self.size, self.size, dtype=torch.uint8), torch.zeros(0).long()
        return torch.cat(images), torch.cat(labels)


def paint_flat(distance: Tensor, colour: Tensor, centre: Tensor, radius: Tensor, size: int):
    """Domain A of ``image.two_domains``: the object filled with its flat colour, on white."""
    fill = (0.5 - distance).clamp(0, 1).unsqueeze(1)
    return PAPER_WHITE * (1 - fill) + colour.view(-1, 3, 1, 1) * fill


def paint_textured(period: float, outline: float):
    """Domain B: the object outlined in dark ink (``outline`` pixels at 64x64, at least 1.5)
    and filled with diagonal stripes of its colour (``period`` pixels at 64x64), on white."""

    def paint(distance: Tensor, colour: Tensor, centre: Tensor, radius: Tensor, size: int):
        unit = size / 64.0
        centres = torch.arange(size, dtype=torch.float32) + 0.5
        grid_y, grid_x = torch.meshgrid(centres, centres, indexing="ij")
        stripes = 0.5 + 0.5 * torch.sin(2 * torch.pi * (grid_x + grid_y) / (period * unit))
        body = colour.view(-1, 3, 1, 1) * (0.45 + 0.55 * stripes) + 0.35 * (1 - stripes)
        fill = (0.5 - distance).clamp(0, 1).unsqueeze(1)
        image = PAPER_WHITE * (1 - fill) + body.clamp(0, 1) * fill
        width = max(outline * unit, 1.5)  # at least 1.5 pixels: a visible line at any size
        line = (width / 2 + 0.5 - distance.abs()).clamp(0, 1).unsqueeze(1)
        return image * (1 - line) + 0.12 * line

    return paint


# ====================================================================== unpaired data
class UnpairedDataset(PairedDataset):
    """Two domains: A in ``inputs``, B in ``images`` (the target domain: the image metrics'
    feature network is trained on it), of any two counts. Item ``i`` is A[i mod |A|] with
    B[order[i] mod |B|] (``order`` a permutation fixed by the seed): the pairs mean nothing.
    ``targets`` (held-out procedural data only): B images of the same scenes as the A ones."""

    registered_name = "image.unpaired"

    def __init__(self, split: str) -> None:
        super().__init__(split)
        self.input_labels = torch.zeros(0, dtype=torch.long)
        self.paired = False
        self.order = torch.zeros(0, dtype=torch.long)

    def finish(self, seed: int) -> None:
        count = max(len(self.inputs), len(self.images))
        self.order = torch.randperm(count, generator=torch.Generator().manual_seed(seed + 7))

    def __len__(self) -> int:
        return max(int(self.inputs.shape[0]), int(self.images.shape[0]))

    def get_batch(self, indices: list[int], single: bool = False) -> dict[str, Tensor]:
        index = torch.as_tensor(indices, dtype=torch.long)
        a = to_float(self.inputs[index % len(self.inputs)])
        b = to_float(self.images[self.order[index] % len(self.images)])
        if single:
            return {"real": b[0], "condition": a[0]}
        return {"real": b, "condition": a}

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "task": "unpaired", "items_a": len(self.inputs),
                "items_b": len(self.images)}  # fmt: skip


class TwoDomains(UnpairedDataset):
    """Two styles of the same objects, made procedurally: A flat-coloured, B outlined in dark
    ink and filled with diagonal stripes of the colour (CycleGAN's unpaired translation on
    data that needs no download). The objects are ``image.sketch_pairs``'s: the plugin's five
    shapes and scikit-learn's 1,797 real digits (15 classes). In the training split, A and B
    come from two disjoint halves of the scenes, so no A image has its B counterpart there
    (truly unpaired); the held-out split holds both renderings of each held-out scene
    (``paired``: the B rendering is a ground truth the strips and PSNR can show).
    """

    registered_name = "image.two_domains"

    def __init__(
        self,
        size: int = 64,
        shapes: int = 2000,
        digits: bool = True,
        period: float = 6.0,
        outline: float = 2.0,
        held_out: float = 0.1,
        split: Split = "train",
        seed: int = 0,
    ) -> None:
        super().__init__(split)
        if period <= 0 or outline <= 0:
            raise DataError("image.two_domains: period and outline must be > 0 pixels")
        self.arguments = dict(
            size=size, shapes=shapes, digits=digits, period=period, outline=outline,
            held_out=held_out, split=split, seed=seed,
        )  # fmt: skip
        scenes = ObjectScenes(size, shapes, digits, seed, "image.two_domains")
        chosen = split_indices(scenes.count, held_out, seed, split)
        textured = paint_textured(period, outline)
        if split == "held_out":
            a_items = b_items = chosen
            self.paired = True
        else:  # two disjoint halves of the scenes: A from one, B from the other
            halves = chosen[
                torch.randperm(len(chosen), generator=torch.Generator().manual_seed(seed + 3))
            ]
            a_items, b_items = halves[0::2].sort().values, halves[1::2].sort().values
        self.inputs, self.input_labels = scenes.render(a_items, paint_flat)
        self.images, self.labels = scenes.render(b_items, textured)
        if len(self.inputs) == 0 or len(self.images) == 0:
            raise DataError(f"image.two_domains: the '{split}' split is empty")
        self.class_names = list(scenes.class_names)
        self.finish(seed)


class UnpairedFolder(UnpairedDataset):
    """The user's two domains in CycleGAN's layout: ``root/trainA/`` and ``root/trainB/``
    (recursive; any counts, any names). Each image is resized on its shorter side to ``size``
    and centre-cropped. A fraction ``held_out`` of each domain is kept apart (fixed by the
    seed). Errors name the folder or the file: a missing or empty ``trainA/`` or ``trainB/``,
    a file that does not decode (``strict: false`` skips it with a warning)."""

    registered_name = "image.unpaired_folder"

    def __init__(
        self,
        root: str,
        size: int = 256,
        channels: int = 3,
        strict: bool = True,
        held_out: float = 0.1,
        split: Split = "train",
        seed: int = 0,
    ) -> None:
        super().__init__(split)
        if channels not in (1, 3):
            raise DataError(f"image.unpaired_folder: channels must be 1 or 3, got {channels}")
        self.arguments = dict(root=root, size=size, channels=channels, strict=strict,
                              held_out=held_out, split=split, seed=seed)  # fmt: skip
        folder = Path(root)
        if not folder.is_dir():
            raise DataError(f"unpaired folder '{folder}' does not exist (or is not a folder)")
        mode = "RGB" if channels == 3 else "L"
        domains, self.skipped = [], []
        for offset, name in enumerate(("trainA", "trainB")):
            sub = folder / name
            if not sub.is_dir():
                raise DataError(
                    f"unpaired folder '{folder}' has no {name}/ (CycleGAN's layout: trainA/ and "
                    "trainB/, one domain each)"
                )
            files = image_files(sub)
            if not files:
                raise DataError(
                    f"unpaired folder '{sub}' holds no images ({', '.join(EXTENSIONS)})"
                )
            images = []
            for path in files:
                try:
                    images.append(image_tensor(open_image(path, mode), size, channels))
                except DataError as error:
                    if strict:
                        raise
                    warnings.warn(f"skipping: {error}", stacklevel=2)
                    self.skipped.append(str(error))
            if not images:
                raise DataError(f"unpaired folder '{sub}': none of {len(files)} files decodes")
            kept = split_indices(len(images), held_out, seed + offset, split)
            if len(kept) == 0:
                raise DataError(f"unpaired folder '{sub}': the '{split}' split is empty")
            domains.append(torch.stack(images)[kept])
        if self.skipped:
            log.warning("unpaired folder '%s': skipped %d bad files", folder, len(self.skipped))
        self.inputs, self.images = domains
        self.labels = torch.zeros(len(self.images), dtype=torch.long)
        self.input_labels = torch.zeros(len(self.inputs), dtype=torch.long)
        self.class_names = ["all"]
        self.finish(seed)


# ====================================================================== high-resolution images
def downsample(images: Tensor, factor: int) -> Tensor:
    """uint8 (N, C, S, S) -> uint8 (N, C, S/factor, S/factor): bicubic with antialiasing (the
    paper's LR images: bicubic down-sampling of the HR ones), quantised like a saved image."""
    low = F.interpolate(to_float(images), scale_factor=1 / factor, mode="bicubic",
                        antialias=True, align_corners=False)  # fmt: skip
    return as_bytes((low + 1) / 2)


def upsample_bicubic(images: Tensor, factor: int) -> Tensor:
    """Float images in [-1, 1] up ``factor`` times (bicubic, clamped): the SR baseline."""
    high = F.interpolate(images, scale_factor=factor, mode="bicubic", align_corners=False)
    return high.clamp(-1, 1)


def folder_images(root: str, size: int, channels: int, strict: bool, name: str,
                  crop: bool) -> tuple[Tensor, list[Path], list[str]]:  # fmt: skip
    """Every image of a folder (recursive) as uint8 (N, C, size, size): centre-cropped to
    ``size`` without resampling (``crop``: an image smaller than that is an error naming it),
    or resized on its shorter side and centre-cropped. Also the files skipped (``strict:
    false``), one message each."""
    folder = Path(root)
    if not folder.is_dir():
        raise DataError(f"{name}: image folder '{folder}' does not exist (or is not a folder)")
    files = image_files(folder)
    if not files:
        raise DataError(
            f"{name}: image folder '{folder}' holds no images ({', '.join(EXTENSIONS)})"
        )
    mode = "RGB" if channels == 3 else "L"
    images, kept, skipped = [], [], []
    for path in files:
        try:
            image = open_image(path, mode)
            if crop:
                width, height = image.size
                if min(width, height) < size:
                    raise DataError(
                        f"{path} is {width}x{height}, smaller than the {size}x{size} "
                        f"high-resolution crop {name} takes (set a smaller size)"
                    )
                left, top = (width - size) // 2, (height - size) // 2
                image = image.crop((left, top, left + size, top + size))
            images.append(image_tensor(image, size, channels))
            kept.append(path)
        except DataError as error:
            if strict:
                raise
            warnings.warn(f"skipping: {error}", stacklevel=3)
            skipped.append(str(error))
    if skipped:
        log.warning("%s: skipped %d of %d files in '%s'", name, len(skipped), len(files), folder)
    if not images:
        raise DataError(f"{name}: none of the {len(files)} files in '{folder}' could be used")
    return torch.stack(images), kept, skipped


class SRPairs(PairedDataset):
    """High-resolution images and their x``factor`` bicubic down-sampling (antialiased, made
    in torch): SRGAN's training pairs. ``real`` is the HR image (C, S, S), ``condition`` the
    LR one (C, S/f, S/f). The HR images are the objects of ``image.sketch_pairs`` (shapes and
    scikit-learn's real digits), filled, lit and bevelled as its targets (``digits: true,
    shapes: 0``: the digits alone), or with ``root`` the user's folder of HR images, each
    centre-cropped to ``size`` without resampling (an image smaller than that is an error
    naming the file)."""

    registered_name = "image.sr_pairs"

    def __init__(
        self,
        size: int = 64,
        factor: int = 4,
        shapes: int = 2000,
        digits: bool = True,
        root: str | None = None,
        channels: int = 3,
        strict: bool = True,
        held_out: float = 0.1,
        split: Split = "train",
        seed: int = 0,
    ) -> None:
        super().__init__(split)
        if factor < 2 or size % factor:
            raise DataError(
                f"image.sr_pairs: size {size} must be a multiple of factor {factor} >= 2"
            )
        if channels not in (1, 3):
            raise DataError(f"image.sr_pairs: channels must be 1 or 3, got {channels}")
        self.arguments = dict(size=size, factor=factor, shapes=shapes, digits=digits, root=root,
                              channels=channels, strict=strict, held_out=held_out, split=split,
                              seed=seed)  # fmt: skip
        if root is not None:
            images, self.files, self.skipped = folder_images(
                root, size, channels, strict, "image.sr_pairs", True
            )
            labels, self.class_names = torch.zeros(len(images), dtype=torch.long), ["all"]
            chosen = split_indices(len(images), held_out, seed, split)
            images, labels = images[chosen], labels[chosen]
        else:
            scenes = ObjectScenes(size, shapes, digits, seed, "image.sr_pairs")
            chosen = split_indices(scenes.count, held_out, seed, split)
            images, labels = scenes.render(chosen, shade)
            self.class_names = list(scenes.class_names)
            if channels == 1:
                images = images.float().mean(1, keepdim=True).round().to(torch.uint8)
        if len(images) == 0:
            raise DataError(f"image.sr_pairs: the '{split}' split is empty")
        self.images, self.labels = images, labels
        self.inputs = downsample(images, factor)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "task": "super-resolution",
                "factor": self.arguments["factor"]}  # fmt: skip


# ====================================================================== masked images
def rectangle_masks(count: int, size: int, hole: tuple[float, float], generator=None) -> Tensor:
    """Random axis-aligned rectangles, sides in ``hole`` x size: (N, 1, S, S) in {0, 1}."""
    low, high = hole[0] * size, hole[1] * size
    sides = low + (high - low) * torch.rand(count, 2, generator=generator)
    corner = torch.rand(count, 2, generator=generator) * (size - sides)
    grid = torch.arange(size, dtype=torch.float32) + 0.5
    rows = (grid >= corner[:, :1]) & (grid < corner[:, :1] + sides[:, :1])  # (N, S)
    columns = (grid >= corner[:, 1:]) & (grid < corner[:, 1:] + sides[:, 1:])
    return (rows[:, :, None] & columns[:, None, :]).unsqueeze(1).float()


def free_form_masks(count: int, size: int, hole: tuple[float, float], generator=None,
                    strokes: int = 2, vertices: int = 5) -> Tensor:  # fmt: skip
    """Free-form brush strokes: ``strokes`` polylines of ``vertices`` points each, a random
    walk with steps of hole x size / 2 and a brush width of hole[0] x size / 2 ... hole[0] x
    size: (N, 1, S, S) in {0, 1}."""
    lines = count * strokes
    start = torch.rand(lines, 1, 2, generator=generator) * size
    angle = 2 * torch.pi * torch.rand(lines, vertices - 1, generator=generator)
    length = (
        (hole[0] + (hole[1] - hole[0]) * torch.rand(lines, vertices - 1, generator=generator))
        * size
        / 2
    )
    steps = torch.stack([angle.cos(), angle.sin()], -1) * length.unsqueeze(-1)
    points = torch.cat([start, start + steps.cumsum(1)], 1).clamp(0, size)  # (L, V, 2)
    width = hole[0] * size * (0.5 + 0.5 * torch.rand(lines, 1, 1, generator=generator))
    grid = torch.arange(size, dtype=torch.float32) + 0.5
    py, px = (g.reshape(1, -1) for g in torch.meshgrid(grid, grid, indexing="ij"))  # (1, P)
    near = torch.empty(lines, size * size)
    for first in range(0, lines, 256):  # in chunks: the (lines, pixels) maps stay in cache
        part = slice(first, first + 256)
        closest = torch.full_like(near[part], float("inf"))
        for v in range(vertices - 1):  # squared distance of every pixel to each segment
            ay, ax = points[part, v, :1], points[part, v, 1:]  # (L, 1)
            dy, dx = points[part, v + 1, :1] - ay, points[part, v + 1, 1:] - ax
            t = ((py - ay) * dy + (px - ax) * dx) / (dy * dy + dx * dx).clamp_min(1e-6)
            t = t.clamp_(0, 1)
            distance = (py - ay - t * dy).square_() + (px - ax - t * dx).square_()
            closest = torch.minimum(closest, distance)
        near[part] = closest.sqrt_()
    inked = near.view(count, strokes, size, size) <= width.view(count, strokes, 1, 1) / 2
    return inked.any(1, keepdim=True).float()


MaskKind = Literal["rectangles", "free_form", "both"]
SPLITS_ORDER = ("train", "held_out", "all")


def draw_masks(count: int, size: int, kind: str, hole: tuple[float, float], generator=None):
    """``count`` masks (N, 1, S, S) of ``kind``; ``both``: each a rectangle or strokes (1/2)."""
    with one_thread():  # small element-wise maps: one thread beats several fighting
        return _draw_masks(count, size, kind, hole, generator)


def _draw_masks(count: int, size: int, kind: str, hole: tuple[float, float], generator=None):
    if kind == "rectangles":
        return rectangle_masks(count, size, hole, generator)
    if kind == "free_form":
        return free_form_masks(count, size, hole, generator)
    rectangles = rectangle_masks(count, size, hole, generator)
    strokes = free_form_masks(count, size, hole, generator)
    pick = torch.rand(count, generator=generator) < 0.5
    return torch.where(pick.view(-1, 1, 1, 1), rectangles, strokes)


def diffusion_fill(images: Tensor, masks: Tensor, smoothing: int = 100) -> Tensor:
    """A non-learned completion: the hole filled from its border inwards, ring by ring, each
    new pixel the mean of its known 8-neighbours (a nearest-colour fill), then ``smoothing``
    Jacobi steps of the heat equation inside the hole (its border fixed: a harmonic
    interpolation). Images (N, C, S, S) in [-1, 1], masks (N, 1, S, S), 1 in the hole; what
    the images hold inside the hole is never read. The baseline of ``image.inpaint_metrics``
    and, with ``image.masked``'s ``fill: diffusion``, the completion network's starting fill."""
    known = 1 - masks
    filled = images * known
    channels = images.shape[1]
    ring = torch.ones(channels + 1, 1, 3, 3, dtype=images.dtype, device=images.device)
    for _ in range(images.shape[-1]):  # at most S rings
        if bool((known > 0).all()):
            break
        sums = F.conv2d(torch.cat([filled * known, known], 1), ring, padding=1, groups=channels + 1)
        colour_sum, weight = sums[:, :channels], sums[:, channels:]
        new = (known == 0) & (weight > 0)
        filled = torch.where(new, colour_sum / weight.clamp_min(1), filled)
        known = torch.where(new, torch.ones_like(known), known)
    outside = images * (1 - masks)
    for _ in range(smoothing):  # the mean of the 4 neighbours (slices: 6x a grouped conv's speed)
        padded = F.pad(filled, (1, 1, 1, 1), mode="replicate")
        above, below = padded[..., :-2, 1:-1], padded[..., 2:, 1:-1]
        left, right = padded[..., 1:-1, :-2], padded[..., 1:-1, 2:]
        filled = outside + (above + below + left + right) * 0.25 * masks
    return filled


FillKind = Literal["mean", "diffusion"]


def fill_hole(images: Tensor, masks: Tensor, fill: str, mean_pixel: list[float]) -> Tensor:
    """The completion network's input (N, C + 1, S, S): images (N, C, S, S) in [-1, 1] with the
    hole (masks (N, 1, S, S), 1 in the hole) filled with ``mean_pixel`` (``fill: mean``, the
    paper's) or by :func:`diffusion_fill` (``fill: diffusion``), and the mask as the last
    channel. The one place a condition is made: the data's batches and the writer's
    ``generate``."""
    if fill == "diffusion":
        with one_thread():  # small maps, many steps: one thread beats several fighting
            filled = diffusion_fill(images, masks)
    else:
        mean = torch.tensor(mean_pixel, dtype=images.dtype, device=images.device)
        filled = images * (1 - masks) + mean.view(1, -1, 1, 1) * masks
    return torch.cat([filled, masks], 1)


class MaskedImages(ImageDataset):
    """Images with holes to complete (Iizuka et al. 2017). ``real`` is the whole image (C, S,
    S); ``condition`` the network's input (C + 1, S, S): the image with the hole filled with the
    training set's mean pixel (``fill: mean``, the paper's) or with :func:`diffusion_fill`'s
    harmonic fill from the hole's border (``fill: diffusion``), and the mask (1 in the hole) as
    the last channel. The masks are also kept apart, uint8 (N, 1, S, S) in ``masks``. Holes
    are random rectangles (sides a fraction ``hole`` of the image's), free-form brush strokes,
    or ``both`` (half each). The held-out split's masks are fixed by the seed; with
    ``fresh_masks`` the training batches get new masks each time (the paper's random holes),
    from torch's global stream (restored on resume). Images: the objects of
    ``image.sketch_pairs``, filled, lit and bevelled, or with ``root`` the user's folder
    (resized on the shorter side and centre-cropped)."""

    registered_name = "image.masked"

    def __init__(
        self,
        size: int = 64,
        shapes: int = 2000,
        digits: bool = True,
        root: str | None = None,
        channels: int = 3,
        masks: MaskKind = "both",
        hole: list[float] | None = None,
        fresh_masks: bool = True,
        fill: FillKind = "mean",
        strict: bool = True,
        held_out: float = 0.1,
        split: Split = "train",
        seed: int = 0,
    ) -> None:
        super().__init__(conditional=True, split=split)
        hole = list(hole) if hole is not None else [0.25, 0.5]
        if masks not in ("rectangles", "free_form", "both"):
            raise DataError(
                f"image.masked: masks must be rectangles, free_form or both, got {masks}"
            )
        if len(hole) != 2 or not 0 < hole[0] <= hole[1] < 1:
            raise DataError(
                "image.masked: hole is [min, max] fractions of the side, 0 < min <= max < 1"
            )
        if channels not in (1, 3):
            raise DataError(f"image.masked: channels must be 1 or 3, got {channels}")
        if fill not in ("mean", "diffusion"):
            raise DataError(f"image.masked: fill must be mean or diffusion, got {fill}")
        self.arguments = dict(size=size, shapes=shapes, digits=digits, root=root, channels=channels,
                              masks=masks, hole=hole, fresh_masks=fresh_masks, fill=fill,
                              strict=strict, held_out=held_out, split=split, seed=seed)  # fmt: skip
        if root is not None:
            images, files, self.skipped = folder_images(
                root, size, channels, strict, "image.masked", False
            )
            labels, self.class_names = torch.zeros(len(images), dtype=torch.long), ["all"]
            count = len(images)
            chosen = split_indices(count, held_out, seed, split)
            train = split_indices(count, held_out, seed, "train")
            mean_source = images[train].float()
            images, labels = images[chosen], labels[chosen]
        else:
            scenes = ObjectScenes(size, shapes, digits, seed, "image.masked")
            count = scenes.count
            chosen = split_indices(count, held_out, seed, split)
            images, labels = scenes.render(chosen, shade)
            if channels == 1:
                images = images.float().mean(1, keepdim=True).round().to(torch.uint8)
            self.class_names = list(scenes.class_names)
            # the training set's mean pixel, the same in every split: on every k-th training item
            train = split_indices(count, held_out, seed, "train")
            step = max(1, len(train) // 500)
            if split == "train":
                mean_source = images[::step].float()
            else:
                mean_source = scenes.render(train[::step], shade)[0].float()
                if channels == 1:
                    mean_source = mean_source.mean(1, keepdim=True)
        if len(images) == 0:
            raise DataError(f"image.masked: the '{split}' split is empty")
        self.images, self.labels = images, labels
        self.mean_pixel = (mean_source.mean((0, 2, 3)) * 2 / 255 - 1).tolist()
        # this split's fixed masks (the training batches draw new ones with fresh_masks)
        self._masks: Tensor | None = None  # drawn when first asked for

    @property
    def masks(self) -> Tensor:
        """This split's fixed masks, uint8 (N, 1, S, S), 1 in the hole (fixed by the seed)."""
        if self._masks is None:
            a = self.arguments
            stream = torch.Generator().manual_seed(a["seed"] + 11 + SPLITS_ORDER.index(self.split))
            drawn = draw_masks(len(self.images), a["size"], a["masks"], tuple(a["hole"]), stream)
            self._masks = drawn.to(torch.uint8)
        return self._masks

    def fill(self, images: Tensor, masks: Tensor) -> Tensor:
        """The completion network's input: images (N, C, S, S) in [-1, 1] with the hole filled
        as ``fill`` says (:func:`fill_hole`), and the mask (N, 1, S, S) as the last channel."""
        return fill_hole(images, masks, self.arguments["fill"], self.mean_pixel)

    def get_batch(self, indices: list[int], single: bool = False) -> dict[str, Tensor]:
        index = torch.as_tensor(indices, dtype=torch.long)
        real = to_float(self.images[index])
        if self.split == "train" and self.arguments["fresh_masks"]:
            a = self.arguments
            masks = draw_masks(len(index), a["size"], a["masks"], tuple(a["hole"]))
        else:
            masks = self.masks[index].float()
        condition = self.fill(real, masks)
        if single:
            return {"real": real[0], "condition": condition[0]}
        return {"real": real, "condition": condition}

    def all_inputs(self) -> Tensor:
        """Every image with its fixed mask, as the network's input (N, C + 1, S, S)."""
        return self.fill(self.all_images(), self.masks.float())

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "task": "inpainting", "input_channels": self.channels + 1,
                "mean_pixel": [round(v, 6) for v in self.mean_pixel],
                "fill": self.arguments["fill"]}  # fmt: skip
