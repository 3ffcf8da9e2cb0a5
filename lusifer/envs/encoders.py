"""Text encoders: turn user and profile texts into the fixed-size vectors of an observation.

An encoder is any object with an integer ``dim`` and ``encode(texts: list[str]) -> np.ndarray`` of shape
``(len(texts), dim)``. Built-in encoders return L2-normalised float32 rows (``normalized = True``), so
their values lie in [-1, 1].
"""

from __future__ import annotations

import re
import zlib
from collections import OrderedDict
from typing import Protocol, runtime_checkable

import numpy as np

from lusifer.api.errors import ConfigError

_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


@runtime_checkable
class TextEncoder(Protocol):
    """What the environment needs from an encoder."""

    dim: int

    def encode(self, texts: list[str]) -> np.ndarray: ...


class HashingEncoder:
    """Feature hashing of lowercase word tokens into ``dim`` signed buckets, L2-normalised.

    Buckets come from CRC-32 of the token (not Python's salted ``hash``), so vectors are identical in
    every process. A text without words encodes to the zero vector.
    """

    normalized = True

    def __init__(self, dim: int = 64) -> None:
        if dim < 1:
            raise ConfigError(f"encoder dim must be positive, not {dim}")
        self.dim = dim

    def encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            codes = np.array([zlib.crc32(token.encode()) for token in _TOKEN.findall(text.lower())], np.uint64)
            signs = np.where(codes & 0x80000000, 1.0, -1.0)  # sign: the top bit
            out[row] = np.bincount(codes % self.dim, weights=signs, minlength=self.dim)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        np.divide(out, norms, out=out, where=norms > 0)
        return out


class SentenceTransformerEncoder:
    """Embeddings from a ``sentence-transformers`` model (install the package; the model downloads
    on first use unless it is already in the local cache)."""

    normalized = True

    def __init__(self, model_name: str = "all-MiniLM-L6-v2") -> None:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise ConfigError(
                "encoder 'sentence-transformers' needs the sentence-transformers package "
                "(pip install sentence-transformers); the default encoder is 'hashing'"
            ) from None
        self.model_name = model_name
        self.model = SentenceTransformer(model_name)
        self.dim = int(self.model.get_sentence_embedding_dimension())

    def encode(self, texts: list[str]) -> np.ndarray:
        vectors = self.model.encode(list(texts), normalize_embeddings=True, convert_to_numpy=True)
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dim)


def make_encoder(spec: str | TextEncoder) -> TextEncoder:
    """``"hashing"`` / ``"hashing:<dim>"``, ``"sentence-transformers"`` / ``"sentence-transformers:<model>"``,
    or an encoder object (returned as is)."""
    if not isinstance(spec, str):
        if not isinstance(spec, TextEncoder):
            raise ConfigError(f"an encoder needs an int 'dim' and an 'encode(texts)' method, not {spec!r}")
        return spec
    name, _, argument = spec.partition(":")
    if name == "hashing":
        return HashingEncoder(int(argument) if argument else 64)
    if name == "sentence-transformers":
        return SentenceTransformerEncoder(argument) if argument else SentenceTransformerEncoder()
    raise ConfigError(f"unknown encoder {spec!r}: use 'hashing', 'sentence-transformers' or an encoder object")


class EmbeddingCache:
    """Encodes texts through ``encoder``, remembering the last ``size`` texts' vectors."""

    def __init__(self, encoder: TextEncoder, size: int = 4096) -> None:
        self.encoder = encoder
        self.size = size
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()

    def __call__(self, text: str) -> np.ndarray:
        vector = self._vectors.get(text)
        if vector is None:
            vector = np.asarray(self.encoder.encode([text]), dtype=np.float32).reshape(self.encoder.dim)
            vector.setflags(write=False)
            self._vectors[text] = vector
            if len(self._vectors) > self.size:
                self._vectors.popitem(last=False)
        else:
            self._vectors.move_to_end(text)
        return vector

    def bounds(self) -> tuple[float, float]:
        """Value range of the encoder's output: [-1, 1] when normalised, unbounded otherwise."""
        return (-1.0, 1.0) if getattr(self.encoder, "normalized", False) else (-np.inf, np.inf)
