"""Tokenizer: an offline byte-level BPE with Qwen-style special tokens, and sample encoding.

Chapter 02 (packing) uses ``encode_sample`` to measure multimodal lengths; chapters 04-07 use it
to build training rows, and chapter 08 uses ``encode_prompt`` for generation. The chat format is
Qwen's ChatML (``<|im_start|>role\\n...<|im_end|>\\n``); each ``<image>`` marker becomes
``num_visual_tokens`` copies of ``<|image_pad|>``, which the model replaces by projected image
features. Loss (labels != -100) is carried by assistant text and its closing ``<|im_end|>`` only.
"""
from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import AutoTokenizer, PreTrainedTokenizerBase, PreTrainedTokenizerFast

from infimed_lib.common import iter_jsonl
from infimed_lib.data.prompt_format import IMAGE_MARKER

IMAGE_TOKEN = "<|image_pad|>"
IM_START, IM_END, END_OF_TEXT = "<|im_start|>", "<|im_end|>", "<|endoftext|>"
SPECIAL_TOKENS = [END_OF_TEXT, IM_START, IM_END, IMAGE_TOKEN]
IGNORE_INDEX = -100
ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "system": "system"}

# The same format as a Jinja chat template, so `transformers` users get identical text from
# `tokenizer.apply_chat_template`; a test checks that both agree.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


@dataclass
class EncodedSample:
    """Token ids and labels of one sample; ``len(input_ids)`` is its multimodal length."""

    input_ids: list[int]
    labels: list[int]
    num_images: int
    image_spans: list[tuple[int, int]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.input_ids)


def train_tokenizer(texts: Iterable[str], vocab_size: int = 2048,
                    out_dir: str | Path | None = None) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE on ``texts`` (seconds on the miniature corpus). Chapter 00.

    Byte-level means any text, Chinese included, is encodable without unknown tokens.
    """
    if vocab_size < 300:
        raise ValueError(f"vocab_size={vocab_size} is too small: byte-level BPE needs at least 256 + specials")
    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, min_frequency=2, special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False,
    )
    backend.train_from_iterator((t.replace(IMAGE_MARKER, " ") for t in texts), trainer=trainer)
    tokenizer = _wrap(backend)
    if out_dir is not None:
        save_tokenizer(tokenizer, out_dir)
    return tokenizer


def _wrap(backend: Tokenizer) -> PreTrainedTokenizerFast:
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, eos_token=IM_END, pad_token=END_OF_TEXT,
        additional_special_tokens=[IM_START, IMAGE_TOKEN], model_max_length=4096,
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def save_tokenizer(tokenizer: PreTrainedTokenizerBase, out_dir: str | Path) -> Path:
    """Save into a temp folder, then rename over ``out_dir`` so no half-written tokenizer remains."""
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    tokenizer.save_pretrained(tmp)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    tmp.rename(out_dir)
    return out_dir


def load_tokenizer(path: str | Path) -> PreTrainedTokenizerBase:
    """Load our tokenizer or a real Qwen3 tokenizer folder; ensure the image token exists."""
    path = Path(path)
    if not (path / "tokenizer.json").exists() and not (path / "tokenizer_config.json").exists():
        raise FileNotFoundError(f"no tokenizer in {path} (expected tokenizer.json or tokenizer_config.json)")
    tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    missing = [t for t in (IM_START, IM_END, IMAGE_TOKEN) if t not in tokenizer.get_vocab()]
    if missing:
        tokenizer.add_special_tokens({"additional_special_tokens": missing})
    if tokenizer.pad_token is None:
        tokenizer.pad_token = END_OF_TEXT if END_OF_TEXT in tokenizer.get_vocab() else tokenizer.eos_token
    if not tokenizer.chat_template:
        tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def image_token_id(tokenizer: PreTrainedTokenizerBase) -> int:
    return tokenizer.convert_tokens_to_ids(IMAGE_TOKEN)


def model_token_ids(tokenizer: PreTrainedTokenizerBase) -> dict[str, int]:
    """What ``model.build_model`` needs from the tokenizer: padding, end-of-turn (stops generation)
    and image placeholder ids, and the vocabulary size. Chapter 03."""
    return {"pad": tokenizer.pad_token_id, "eos": tokenizer.convert_tokens_to_ids(IM_END),
            "image": image_token_id(tokenizer), "vocab_size": len(tokenizer)}


class _Builder:
    """Accumulates ids and labels segment by segment (text, image runs, special tokens)."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase, num_visual_tokens: int):
        self.tokenizer, self.num_visual_tokens = tokenizer, num_visual_tokens
        self.ids: list[int] = []
        self.labels: list[int] = []
        self.spans: list[tuple[int, int]] = []
        self.image_id = image_token_id(tokenizer)

    def special(self, token: str, train: bool) -> None:
        token_id = self.tokenizer.convert_tokens_to_ids(token)
        self.ids.append(token_id)
        self.labels.append(token_id if train else IGNORE_INDEX)

    def text(self, text: str, train: bool) -> None:
        """Text with ``<image>`` markers; placeholder runs never carry loss."""
        for index, piece in enumerate(text.split(IMAGE_MARKER)):
            if index > 0:
                start = len(self.ids)
                self.ids.extend([self.image_id] * self.num_visual_tokens)
                self.labels.extend([IGNORE_INDEX] * self.num_visual_tokens)
                self.spans.append((start, len(self.ids)))
            if piece:
                piece_ids = self.tokenizer.encode(piece, add_special_tokens=False)
                self.ids.extend(piece_ids)
                self.labels.extend(piece_ids if train else [IGNORE_INDEX] * len(piece_ids))

    def result(self) -> EncodedSample:
        return EncodedSample(self.ids, self.labels, len(self.spans), self.spans)


def encode_sample(tokenizer: PreTrainedTokenizerBase, sample: dict, num_visual_tokens: int,
                  template: str = "chat") -> EncodedSample:
    """Token ids and loss labels of one schema sample (CONTRIBUTING.md). Chapters 02 and 04-07.

    ``template="chat"`` renders ChatML (SFT); ``"plain"`` renders the turns' text back to back
    followed by ``<|endoftext|>`` (continual pretraining on captions and documents).
    """
    conversations = sample.get("conversations")
    if not conversations:
        raise ValueError(f"sample {sample.get('id')!r}: no conversations")
    markers = sum(turn["value"].count(IMAGE_MARKER) for turn in conversations)
    if markers != len(sample.get("images") or []):
        raise ValueError(f"sample {sample.get('id')!r}: {markers} <image> markers but "
                         f"{len(sample.get('images') or [])} images")
    builder = _Builder(tokenizer, num_visual_tokens)
    if template == "chat":
        _chat(builder, conversations, sample.get("id"))
    elif template == "plain":
        for turn in conversations:
            builder.text(turn["value"], train=ROLES.get(turn["from"]) == "assistant")
        builder.special(END_OF_TEXT, train=True)
    else:
        raise ValueError(f"template must be 'chat' or 'plain', got {template!r}")
    return builder.result()


def _chat(builder: _Builder, conversations: Sequence[dict], sample_id, generation_prompt=False) -> None:
    for turn in conversations:
        role = ROLES.get(turn.get("from"))
        if role is None:
            raise ValueError(f"sample {sample_id!r}: unknown speaker {turn.get('from')!r}")
        train = role == "assistant"
        builder.special(IM_START, train=False)
        builder.text(f"{role}\n", train=False)
        builder.text(turn["value"], train=train)
        builder.special(IM_END, train=train)
        builder.text("\n", train=False)
    if generation_prompt:
        builder.special(IM_START, train=False)
        builder.text("assistant\n", train=False)


def encode_prompt(tokenizer: PreTrainedTokenizerBase, prompt: str, num_visual_tokens: int) -> list[int]:
    """Ids of a single user turn plus the assistant header, ready for generation. Chapter 08."""
    builder = _Builder(tokenizer, num_visual_tokens)
    _chat(builder, [{"from": "human", "value": prompt}], None, generation_prompt=True)
    return builder.ids


def corpus_texts(samples: Iterable[dict]) -> Iterable[str]:
    """Every turn's text of ``samples``, for tokenizer training."""
    for sample in samples:
        for turn in sample.get("conversations", []):
            yield turn["value"]


def train_corpus_tokenizer(corpus_dir: str | Path, out_dir: str | Path, vocab_size: int = 2048) -> PreTrainedTokenizerFast:
    """Train our tokenizer on every source of a corpus folder, in file-name order. Chapter 00."""
    paths = sorted(Path(corpus_dir).glob("sources/*.jsonl"))
    if not paths:
        raise FileNotFoundError(f"no sources/*.jsonl in {corpus_dir}")
    texts = (text for path in paths for text in corpus_texts(iter_jsonl(path)))
    return train_tokenizer(texts, vocab_size=vocab_size, out_dir=out_dir)


def prepare_tokenizer(out_dir: str | Path, corpus_dir: str | Path, pretrained_path: str = "",
                      vocab_size: int = 2048) -> PreTrainedTokenizerBase:
    """The run's tokenizer in ``out_dir``: a copy of a real one (``pretrained_path``) or trained. Chapter 00."""
    if pretrained_path:
        tokenizer = load_tokenizer(pretrained_path)
        save_tokenizer(tokenizer, out_dir)
        return tokenizer
    return train_corpus_tokenizer(corpus_dir, out_dir, vocab_size)


def show_label_mask(tokenizer: PreTrainedTokenizerBase, encoded: EncodedSample, max_image_tokens: int = 3) -> str:
    """The encoded text with trained spans in [[...]] and image runs shortened, for the book."""
    pieces, current, trained = [], [], None
    image_id = image_token_id(tokenizer)
    ids = list(encoded.input_ids)
    for start, end in reversed(encoded.image_spans):  # shorten image runs for display
        ids[start + max_image_tokens:end] = []
    labels = list(encoded.labels)
    for start, end in reversed(encoded.image_spans):
        labels[start + max_image_tokens:end] = []
    for token_id, label in zip(ids, labels):
        flag = label != IGNORE_INDEX
        if flag != trained and current:
            pieces.append(("[[" + tokenizer.decode(current) + "]]") if trained else tokenizer.decode(current))
            current = []
        trained = flag
        current.append(token_id)
    if current:
        pieces.append(("[[" + tokenizer.decode(current) + "]]") if trained else tokenizer.decode(current))
    text = "".join(pieces)
    return text.replace(IMAGE_TOKEN * max_image_tokens, f"{IMAGE_TOKEN}×{encoded.image_spans[0][1] - encoded.image_spans[0][0]}"
                        if encoded.image_spans else IMAGE_TOKEN)
