"""Text-to-image data: ``t2i.captioned_shapes`` (procedural captioned scenes) and
``t2i.folder`` (the user's images with captions), and the word tokenizer both describe.

Every item is ``{"real": image (3, S, S) in [-1, 1], "condition": {"tokens": (L,) long,
"length": ()}}``: one caption of the scene drawn at random each time the item is read (AttnGAN
draws one of a bird's ten captions the same way, Xu et al. 2018 sec. 4). Tokens are padded
with ``<pad>`` (id 0) to the data's ``max_words``; ``<unk>`` (id 1) stands for a word outside
the vocabulary. The vocabulary, ``max_words``, the image size and a few held-out captions are
in :meth:`describe`, so a checkpoint alone rebuilds the text encoder and the tokenizer
(``genmm generate --text``) without the data.

``t2i.captioned_shapes``: scenes of one to three shapes (circle, square, triangle) in one of
six colours, small or big, placed by spatial relations, with several captions per scene from a
small grammar ('a small red circle to the left of a blue square'). Colour-shape pairs listed in
``held_out_pairs`` never appear in a training scene; every held-out scene holds at least one of
them, so metrics on the held-out captions test composition.
"""

from __future__ import annotations

import json
import logging
import math
import random
import re
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor

from genmm.errors import DataError

log = logging.getLogger(__name__)

PAD, UNK = "<pad>", "<unk>"
SHAPES = ("circle", "square", "triangle")
COLOURS = {
    "red": (0.95, 0.15, 0.15),
    "green": (0.15, 0.85, 0.2),
    "blue": (0.2, 0.35, 1.0),
    "yellow": (0.95, 0.9, 0.15),
    "purple": (0.65, 0.25, 0.9),
    "orange": (1.0, 0.55, 0.1),
}
SIZES = {"small": 0.08, "big": 0.13}  # radius as a fraction of the side
#: relation -> (direction of the subject from the object, inverse relation)
RELATIONS = {
    "to the left of": ((-1.0, 0.0), "to the right of"),
    "to the right of": ((1.0, 0.0), "to the left of"),
    "above": ((0.0, -1.0), "below"),
    "below": ((0.0, 1.0), "above"),
}
GRAMMAR_WORDS = ("a", "an", "and", "it")
DEFAULT_HELD_OUT_PAIRS = ("green triangle", "blue circle", "yellow square")


# ====================================================================== tokenizer
def words_of(text: str) -> list[str]:
    """Lower-case words of ``text`` (letters, digits and apostrophes)."""
    return re.findall(r"[a-z0-9']+", text.lower())


class Tokenizer:
    """Words <-> ids over a fixed vocabulary; id 0 is ``<pad>``, id 1 ``<unk>``."""

    def __init__(self, vocabulary: list[str], max_words: int) -> None:
        if vocabulary[:2] != [PAD, UNK]:
            raise ValueError(f"the vocabulary must start with {PAD!r}, {UNK!r}")
        self.vocabulary = list(vocabulary)
        self.index = {word: i for i, word in enumerate(self.vocabulary)}
        self.max_words = max_words

    @classmethod
    def from_description(cls, description: dict[str, Any] | None) -> Tokenizer:
        description = description or {}
        if "vocabulary" not in description:
            raise ValueError("needs the data description's 'vocabulary' (a t2i.* dataset)")
        return cls(list(description["vocabulary"]), int(description["max_words"]))

    def encode(self, text: str) -> tuple[Tensor, list[str]]:
        """``text`` -> (ids (max_words,) padded, the words not in the vocabulary). Words past
        ``max_words`` are dropped. An empty text is an error."""
        words = words_of(text)
        if not words:
            raise ValueError(f"empty caption {text!r}: give at least one word")
        unknown = [w for w in words if w not in self.index]
        ids = [self.index.get(w, 1) for w in words[: self.max_words]]
        tokens = torch.zeros(self.max_words, dtype=torch.long)
        tokens[: len(ids)] = torch.tensor(ids)
        return tokens, unknown

    def decode(self, tokens: Tensor) -> str:
        return " ".join(self.vocabulary[int(i)] for i in tokens if int(i) != 0)


def encode_captions(
    tokenizer: Tokenizer, captions: list[str], cache: dict[str, Tensor] | None = None
) -> tuple[Tensor, Tensor]:
    """Captions -> tokens (N, max_words) and lengths (N,) (``cache``: text -> tokens)."""
    if not captions:
        return torch.zeros(0, tokenizer.max_words, dtype=torch.long), torch.zeros(0).long()
    cache = {} if cache is None else cache
    rows = []
    for caption in captions:
        if caption not in cache:
            cache[caption] = tokenizer.encode(caption)[0]
        rows.append(cache[caption])
    tokens = torch.stack(rows)
    return tokens, (tokens != 0).sum(1)


# ====================================================================== base
def to_float(images: Tensor) -> Tensor:
    """uint8 ``[0, 255]`` -> float ``[-1, 1]``."""
    return images.float().mul(2.0 / 255.0).sub(1.0)


class CaptionedImages(torch.utils.data.Dataset):
    """Images (uint8 (N, 3, S, S)) with several captions each, tokenised; the base of both
    data sets. ``captions[i]`` is a list of strings, ``tokens[i]`` a (K_i, L) tensor."""

    registered_name = "t2i.captioned"

    def setup(
        self, images: Tensor, captions: list[list[str]], vocabulary: list[str], max_words: int
    ) -> None:
        self.images = images
        self.captions = captions
        self.tokenizer = Tokenizer(vocabulary, max_words)
        cache: dict[str, Tensor] = {}
        self.tokens = [encode_captions(self.tokenizer, c, cache)[0] for c in captions]

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def __getitem__(self, index: int) -> dict[str, Any]:
        batch = self.get_batch([index])
        return {
            "real": batch["real"][0],
            "condition": {k: v[0] for k, v in batch["condition"].items()},
        }

    def get_batch(self, indices: list[int]) -> dict[str, Any]:
        """Images and one caption of each, drawn from torch's global generator."""
        index = torch.as_tensor(indices, dtype=torch.long)
        choice = [int(torch.randint(len(self.tokens[i]), ())) for i in indices]
        tokens = torch.stack([self.tokens[i][k] for i, k in zip(indices, choice)])
        return {
            "real": to_float(self.images[index]),
            "condition": {"tokens": tokens, "length": (tokens != 0).sum(1)},
        }

    def fixed_pairs(self, count: int | None = None) -> tuple[Tensor, Tensor, list[str]]:
        """The first caption of each item: (images float, tokens (N, L), caption strings)."""
        count = len(self) if count is None else min(count, len(self))
        tokens = torch.stack([self.tokens[i][0] for i in range(count)])
        return to_float(self.images[:count]), tokens, [self.captions[i][0] for i in range(count)]

    def base_description(self) -> dict[str, Any]:
        return {
            "modality": "text-to-image",
            "image_size": int(self.images.shape[-1]),
            "channels": 3,
            "vocabulary": list(self.tokenizer.vocabulary),
            "vocab_size": len(self.tokenizer.vocabulary),
            "max_words": self.tokenizer.max_words,
            "pad_id": 0,
            "unk_id": 1,
            "items": len(self),
        }


# ====================================================================== rendering
def _signed_distance(shape: Tensor, px: Tensor, py: Tensor, r: Tensor) -> Tensor:
    """Signed distance (negative inside) to circle (0) / square (1) / triangle (2) of radius
    ``r`` centred at the origin; all (N, H, W)."""
    circle = torch.sqrt(px * px + py * py) - r
    half = 0.8 * r
    qx, qy = px.abs() - half, py.abs() - half
    square = torch.sqrt(qx.clamp_min(0) ** 2 + qy.clamp_min(0) ** 2) + torch.maximum(
        qx, qy
    ).clamp_max(0)
    # an upright equilateral triangle of circumradius r (apex at -r, base at r/2; y grows
    # downwards): the larger of the distances to its base and to its two slanted edges
    k = math.sqrt(3.0) / 2
    triangle = torch.maximum(py - 0.5 * r, k * px.abs() - 0.5 * py - 0.5 * r)
    return torch.where(shape == 0, circle, torch.where(shape == 1, square, triangle))


def render(objects: dict[str, Tensor], size: int) -> Tensor:
    """Scenes of up to K objects -> uint8 images (N, 3, size, size), anti-aliased, on black.

    ``objects``: tensors (N, K): ``shape`` (index in SHAPES), ``colour`` (index in COLOURS),
    ``radius``, ``x``, ``y`` (centres in [0, 1], y downwards) and ``present`` (bool). Each
    object is drawn on the square patch of pixels around it only."""
    count, slots = objects["shape"].shape
    palette = torch.tensor(list(COLOURS.values()), dtype=torch.float32)
    canvas = torch.zeros(count, size, size, 3)
    patch = min(size, int(math.ceil(2 * float(objects["radius"].max()) * size)) + 4)
    offsets = torch.arange(patch)
    batch = torch.arange(count).view(-1, 1, 1)
    for k in range(slots):
        column = {name: value[:, k] for name, value in objects.items()}
        left = (column["x"] * size - patch / 2).round().long().clamp(0, size - patch)
        top = (column["y"] * size - patch / 2).round().long().clamp(0, size - patch)
        cols, rows = left[:, None] + offsets, top[:, None] + offsets  # (N, P)
        dx = (cols.float() + 0.5) / size - column["x"][:, None]
        dy = (rows.float() + 0.5) / size - column["y"][:, None]
        dx, dy = dx[:, None, :].expand(-1, patch, -1), dy[:, :, None].expand(-1, -1, patch)
        radius = column["radius"].view(-1, 1, 1)
        distance = _signed_distance(column["shape"].view(-1, 1, 1), dx, dy, radius)
        alpha = (0.5 - distance * size).clamp(0, 1) * column["present"].float().view(-1, 1, 1)
        alpha = alpha.unsqueeze(-1)  # (N, P, P, 1)
        colour = palette[column["colour"]].view(count, 1, 1, 3)
        where = (batch, rows[:, :, None], cols[:, None, :])
        canvas[where] = canvas[where] * (1 - alpha) + colour * alpha
    return (canvas * 255).round().to(torch.uint8).permute(0, 3, 1, 2).contiguous()


# ====================================================================== captioned shapes
def noun_phrase(item: dict[str, Any], with_size: bool) -> str:
    words = ([item["size"]] if with_size else []) + [item["colour"], item["shape"]]
    article = "an" if words[0][0] in "aeiou" else "a"
    return " ".join([article, *words])


def scene_captions(scene: list[dict[str, Any]], relations: list[str]) -> list[str]:
    """Several captions of one scene (objects, and the relation of each later object to the
    first): with and without sizes, and with the relation said both ways."""
    captions = []
    for with_size in (True, False):
        np_ = [noun_phrase(item, with_size) for item in scene]
        if len(scene) == 1:
            captions.append(np_[0])
        elif len(scene) == 2:
            relation = relations[0]
            captions.append(f"{np_[1]} {relation} {np_[0]}")
            captions.append(f"{np_[0]} {RELATIONS[relation][1]} {np_[1]}")
        else:
            first, second = relations
            captions.append(f"{np_[1]} {first} {np_[0]} and {np_[2]} {second} it")
            captions.append(f"{np_[2]} {second} {np_[0]} and {np_[1]} {first} it")
    return captions


def grammar_vocabulary() -> list[str]:
    words = set(GRAMMAR_WORDS) | set(SHAPES) | set(COLOURS) | set(SIZES)
    for relation in RELATIONS:
        words |= set(relation.split())
    return [PAD, UNK, *sorted(words)]


def parse_pairs(pairs: list[str]) -> set[tuple[str, str]]:
    parsed = set()
    for pair in pairs:
        parts = pair.split()
        if len(parts) != 2 or parts[0] not in COLOURS or parts[1] not in SHAPES:
            raise ValueError(
                f"held_out_pairs: {pair!r} is not '<colour> <shape>' "
                f"(colours {', '.join(COLOURS)}; shapes {', '.join(SHAPES)})"
            )
        parsed.add((parts[0], parts[1]))
    return parsed


class CaptionedShapes(CaptionedImages):
    """Procedural captioned scenes (see the module docstring); deterministic from ``seed``.

    ``count`` scenes, the last ``held_out`` fraction of them held out (each with at least one
    colour-shape pair of ``held_out_pairs``, which no training scene holds); ``objects`` is
    the (min, max) number of shapes in a scene."""

    registered_name = "t2i.captioned_shapes"

    def __init__(
        self,
        size: int = 64,
        count: int = 6000,
        objects: tuple[int, int] = (1, 3),
        held_out: float = 0.1,
        held_out_pairs: list[str] | None = None,
        max_words: int = 24,
        sample_captions: int = 8,
        split: Literal["train", "held_out"] = "train",
        seed: int = 0,
    ) -> None:
        if not 0.0 <= held_out < 1.0:
            raise ValueError(f"held_out must be a fraction in [0, 1), got {held_out}")
        low, high = objects
        if not 1 <= low <= high <= 3:
            raise ValueError(f"objects must be (min, max) within 1..3, got {objects}")
        if size < 8 or count < 1:
            raise ValueError("size must be >= 8 and count >= 1")
        if split not in ("train", "held_out"):
            raise ValueError(f"split must be 'train' or 'held_out', got {split!r}")
        pairs = list(DEFAULT_HELD_OUT_PAIRS if held_out_pairs is None else held_out_pairs)
        self.held_out_pairs = parse_pairs(pairs)
        all_pairs = [(c, s) for c in COLOURS for s in SHAPES]
        train_pairs = [p for p in all_pairs if p not in self.held_out_pairs]
        if not train_pairs or (held_out > 0 and not self.held_out_pairs):
            raise ValueError("held_out_pairs must leave pairs for training and name some")
        self.arguments = dict(
            size=size,
            count=count,
            objects=[low, high],
            held_out=held_out,
            held_out_pairs=pairs,
            max_words=max_words,
            sample_captions=sample_captions,
            seed=seed,
        )
        self.split = split
        generator = random.Random(seed)
        cut = count - int(round(count * held_out))
        scenes, relations = [], []
        for index in range(count):  # every scene is drawn, so both splits see the same stream
            chosen = train_pairs if index < cut else all_pairs
            forced = None if index < cut else sorted(self.held_out_pairs)
            scene, relation = self._draw_scene(generator, low, high, chosen, forced)
            scenes.append(scene)
            relations.append(relation)
        part = range(cut) if split == "train" else range(cut, count)
        self.scenes = [scenes[i] for i in part]
        captions = [scene_captions(scenes[i], relations[i]) for i in part]
        for caption in (c for group in captions for c in group):
            if len(words_of(caption)) > max_words:
                raise ValueError(f"max_words {max_words} is shorter than the caption {caption!r}")
        self.setup(self._render(self.scenes, size), captions, grammar_vocabulary(), max_words)
        self._held_out: CaptionedShapes | None = None
        self.sample_count = sample_captions

    @staticmethod
    def _draw_scene(generator, low, high, pairs, forced):
        uniform, pick = generator.uniform, generator.choice
        count = generator.randint(low, high)
        items = []
        for k in range(count):
            colour, shape = pick(forced) if (forced and k == 0) else pick(pairs)
            size = pick(list(SIZES))
            items.append({"colour": colour, "shape": shape, "size": size})
        if forced and count > 1:  # the held-out pair may stand anywhere in the scene
            swap = generator.randrange(count)
            items[0], items[swap] = items[swap], items[0]
        relations: list[str] = []
        if count == 1:
            items[0]["x"], items[0]["y"] = uniform(0.3, 0.7), uniform(0.3, 0.7)
        elif count == 2:
            relation = pick(list(RELATIONS))
            (dx, dy), _ = RELATIONS[relation]
            centre_x, centre_y = uniform(0.42, 0.58), uniform(0.42, 0.58)
            items[0]["x"], items[0]["y"] = centre_x - 0.2 * dx, centre_y - 0.2 * dy
            items[1]["x"], items[1]["y"] = centre_x + 0.2 * dx, centre_y + 0.2 * dy
            for item in items:  # jitter across the relation's axis
                item["x" if dx == 0 else "y"] += uniform(-0.08, 0.08)
            relations = [relation]
        else:  # the first object in the middle, the others on two of its sides
            first = pick(list(RELATIONS))
            second = pick([r for r in RELATIONS if r != first])
            items[0]["x"], items[0]["y"] = uniform(0.48, 0.52), uniform(0.48, 0.52)
            for item, relation in zip(items[1:], (first, second)):
                (dx, dy), _ = RELATIONS[relation]
                item["x"] = items[0]["x"] + 0.28 * dx + (uniform(-0.02, 0.02) if dx == 0 else 0)
                item["y"] = items[0]["y"] + 0.28 * dy + (uniform(-0.02, 0.02) if dy == 0 else 0)
            relations = [first, second]
        for item in items:
            item["radius"] = SIZES[item["size"]] * uniform(0.95, 1.05)
        return items, relations

    @staticmethod
    def _render(scenes: list[list[dict[str, Any]]], size: int) -> Tensor:
        slots = max((len(s) for s in scenes), default=1)
        columns = {n: torch.zeros(len(scenes), slots) for n in ("radius", "x", "y")}
        shape = torch.zeros(len(scenes), slots, dtype=torch.long)
        colour = torch.zeros(len(scenes), slots, dtype=torch.long)
        present = torch.zeros(len(scenes), slots, dtype=torch.bool)
        colours = list(COLOURS)
        for i, scene in enumerate(scenes):
            for k, item in enumerate(scene):
                shape[i, k], colour[i, k] = (
                    SHAPES.index(item["shape"]),
                    colours.index(item["colour"]),
                )
                for name in columns:
                    columns[name][i, k] = item[name]
                present[i, k] = True
        chunks = []
        for start in range(0, len(scenes), 512):
            part = slice(start, start + 512)
            objects = {n: v[part] for n, v in columns.items()}
            objects.update(shape=shape[part], colour=colour[part], present=present[part])
            chunks.append(render(objects, size))
        return torch.cat(chunks) if chunks else torch.zeros(0, 3, size, size, dtype=torch.uint8)

    def held_out_set(self) -> CaptionedShapes:
        """The held-out scenes (their colour-shape pairs never trained on), same item format."""
        if self.split == "held_out":
            return self
        if self._held_out is None:
            self._held_out = CaptionedShapes(**{**self.arguments, "split": "held_out"})
        return self._held_out

    def describe(self) -> dict[str, Any]:
        held = self.held_out_set() if self.arguments["held_out"] > 0 else self
        shown = [held.captions[i][0] for i in range(min(self.sample_count, len(held)))]
        return {
            **self.base_description(),
            "held_out": float(self.arguments["held_out"]),
            "held_out_pairs": sorted(" ".join(p) for p in self.held_out_pairs),
            "colours": list(COLOURS),
            "shapes": list(SHAPES),
            "sizes": list(SIZES),
            "relations": list(RELATIONS),
            "sample_captions": shown,
        }


# ====================================================================== folder
EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp")


def _load_image(path: Path, size: int) -> Tensor:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image = image.convert("RGB")
            side = min(image.size)
            left, top = (image.width - side) // 2, (image.height - side) // 2
            image = image.crop((left, top, left + side, top + side))
            image = image.resize((size, size), Image.Resampling.BICUBIC)
            data = torch.frombuffer(bytearray(image.tobytes()), dtype=torch.uint8)
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise DataError(f"{path}: cannot decode the image ({error})")
    return data.view(size, size, 3).permute(2, 0, 1).contiguous()


class CaptionedFolder(CaptionedImages):
    """The user's images with captions, centre-cropped and resized to ``size``.

    Captions come from a ``.txt`` beside each image (one caption per non-empty line, several
    allowed), or from ``captions``: a JSONL file of ``{"image": "relative/path.png",
    "caption": "..."}`` (or ``"captions": [...]``) lines. A missing caption, an empty caption
    and an image that does not decode are ``DataError`` s naming the file. The vocabulary is
    the training captions' words (those seen at least ``min_count`` times); ``held_out`` is the
    fraction of images kept out, fixed by ``seed``."""

    registered_name = "t2i.folder"

    def __init__(
        self,
        root: str,
        size: int = 64,
        captions: str | None = None,
        held_out: float = 0.1,
        max_words: int = 18,
        min_count: int = 1,
        sample_captions: int = 8,
        split: Literal["train", "held_out"] = "train",
        seed: int = 0,
    ) -> None:
        if not 0.0 <= held_out < 1.0:
            raise ValueError(f"held_out must be a fraction in [0, 1), got {held_out}")
        folder = Path(root)
        if not folder.is_dir():
            raise DataError(f"{folder}: no such folder")
        self.arguments = dict(
            root=root,
            size=size,
            captions=captions,
            held_out=held_out,
            max_words=max_words,
            min_count=min_count,
            sample_captions=sample_captions,
            seed=seed,
        )
        self.split = split
        pairs = self._read_jsonl(folder, Path(captions)) if captions else self._read_txt(folder)
        if not pairs:
            raise DataError(f"{folder}: no images ({', '.join(EXTENSIONS)}) with captions")
        order = torch.randperm(len(pairs), generator=torch.Generator().manual_seed(seed))
        cut = len(pairs) - int(round(len(pairs) * held_out))
        train = [pairs[i] for i in order[:cut].tolist()]
        chosen = train if split == "train" else [pairs[i] for i in order[cut:].tolist()]
        counts: dict[str, int] = {}
        for _, texts in train:
            for text in texts:
                for word in words_of(text):
                    counts[word] = counts.get(word, 0) + 1
        vocabulary = [PAD, UNK, *sorted(w for w, c in counts.items() if c >= min_count)]
        images = torch.stack([_load_image(path, size) for path, _ in chosen]) if chosen else None
        if images is None:
            images = torch.zeros(0, 3, size, size, dtype=torch.uint8)
        self.files = [path for path, _ in chosen]
        self.setup(images, [texts for _, texts in chosen], vocabulary, max_words)
        self.sample_count = sample_captions
        self._held_out: CaptionedFolder | None = None

    @staticmethod
    def _check(texts: list[str], where: str) -> list[str]:
        for number, text in enumerate(texts, 1):
            if not words_of(text):
                raise DataError(f"{where}: caption {number} is empty")
        if not texts:
            raise DataError(f"{where}: the caption is empty")
        return texts

    def _read_txt(self, folder: Path) -> list[tuple[Path, list[str]]]:
        pairs = []
        for path in sorted(p for p in folder.rglob("*") if p.suffix.lower() in EXTENSIONS):
            text_file = path.with_suffix(".txt")
            if not text_file.exists():
                raise DataError(f"{path}: no caption ({text_file.name} is missing beside it)")
            lines = text_file.read_text(encoding="utf-8", errors="replace").splitlines()
            texts = [line.strip() for line in lines if line.strip()]
            pairs.append((path, self._check(texts, str(text_file))))
        return pairs

    def _read_jsonl(self, folder: Path, file: Path) -> list[tuple[Path, list[str]]]:
        if not file.is_file():
            raise DataError(f"{file}: no such captions file")
        by_image: dict[Path, list[str]] = {}
        for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            where = f"{file}, line {number}"
            try:
                record = json.loads(line)
                image = folder / record["image"]
                texts = record["captions"] if "captions" in record else [record["caption"]]
            except (json.JSONDecodeError, KeyError, TypeError) as error:
                raise DataError(f"{where}: expected {{'image': ..., 'caption': ...}} ({error})")
            texts = [str(t).strip() for t in texts]
            by_image.setdefault(image, []).extend(self._check(texts, f"{where} ({image.name})"))
        for path in sorted(p for p in folder.rglob("*") if p.suffix.lower() in EXTENSIONS):
            if path not in by_image:
                raise DataError(f"{path}: no caption in {file}")
        for path in by_image:
            if not path.exists():
                raise DataError(f"{path}: named in {file} but missing")
        return sorted(by_image.items())

    def held_out_set(self) -> CaptionedFolder:
        if self.split == "held_out":
            return self
        if self._held_out is None:
            # the same training vocabulary: both splits count the training captions
            self._held_out = CaptionedFolder(**{**self.arguments, "split": "held_out"})
        return self._held_out

    def describe(self) -> dict[str, Any]:
        held = self.held_out_set() if self.arguments["held_out"] > 0 else self
        source = held if len(held) else self
        shown = [source.captions[i][0] for i in range(min(self.sample_count, len(source)))]
        return {
            **self.base_description(),
            "held_out": float(self.arguments["held_out"]),
            "sample_captions": shown,
        }
