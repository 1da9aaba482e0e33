#!/usr/bin/env python3
"""Python ONNX Runtime side of the transformer benchmark (`pulse bench transformer`, benches/transformer.rs).

The Rust benchmark tokenises the texts once and writes the padded batches to a JSON file; this script
runs the same model on exactly those tensors with the `onnxruntime` Python package and the same thread
setting, and prints one JSON object: texts/s per batch size (best of N rounds after a warm-up) and the
per-text outputs (logits, or the attention-masked mean of the token states for an encoder) for the
agreement check. Needs only numpy and onnxruntime (pinned in scripts/ci-deps.d/transformer.sh).
When the `tokenizers` package is importable too, it also measures Python end to end (tokenise the raw
texts with the model's tokenizer.json, pad per batch, run), the counterpart of the Rust `rust_e2e`.

    python3 scripts/ort_reference_bench.py --model M/model.onnx --input batches.json [--threads N] [--rounds R]

Input: {"batches": {"1": [{"rows": r, "seq": s, "ids": [...], "mask": [...], "types": [...]}, ...], ...},
        "check": "8",   # which batch size's outputs to return
        "texts": [...], "tokenizer": "M/tokenizer.json", "max_length": 128, "pad_id": 0}   # for end to end
"""

import argparse
import json
import sys
import time

import numpy as np
import onnxruntime as ort


def pick_output(session):
    names = [o.name for o in session.get_outputs()]
    for wanted in ("logits", "last_hidden_state", "token_embeddings"):
        if wanted in names:
            return wanted
    return names[0]


def feeds_for(session, batch):
    shape = (batch["rows"], batch["seq"])
    source = {"input_ids": "ids", "attention_mask": "mask", "token_type_ids": "types"}
    feeds = {}
    for inp in session.get_inputs():
        dtype = np.int32 if inp.type == "tensor(int32)" else np.int64
        feeds[inp.name] = np.asarray(batch[source[inp.name]], dtype=dtype).reshape(shape)
    return feeds


def summarise(out, batch):
    """Per-text rows: logits as they are, token states mean-pooled under the mask."""
    if out.ndim == 2:
        return out.tolist()
    mask = np.asarray(batch["mask"], dtype=np.float32).reshape(batch["rows"], batch["seq"])[..., None]
    pooled = (out * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
    return pooled.tolist()


def end_to_end(session, output, data, size):
    """Seconds for one pass: tokenise, pad to the longest text of each batch, run."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(data["tokenizer"])
    tok.no_padding()
    tok.enable_truncation(max_length=data["max_length"])
    texts = data["texts"]
    names = {i.name: (np.int32 if i.type == "tensor(int32)" else np.int64) for i in session.get_inputs()}

    def one_pass():
        for start in range(0, len(texts), size):
            encs = tok.encode_batch(texts[start : start + size])
            seq = max(1, max(len(e.ids) for e in encs))
            ids = np.full((len(encs), seq), data["pad_id"], dtype=np.int64)
            mask = np.zeros((len(encs), seq), dtype=np.int64)
            types = np.zeros((len(encs), seq), dtype=np.int64)
            for r, e in enumerate(encs):
                n = len(e.ids)
                ids[r, :n] = e.ids
                mask[r, :n] = e.attention_mask
                types[r, :n] = e.type_ids
            cols = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
            session.run([output], {n: cols[n].astype(t) for n, t in names.items()})

    return one_pass


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True)
    p.add_argument("--input", required=True)
    p.add_argument("--threads", type=int, default=0, help="intra-op threads; 0 = onnxruntime default")
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()

    with open(args.input) as f:
        data = json.load(f)
    options = ort.SessionOptions()
    if args.threads > 0:
        options.intra_op_num_threads = args.threads
    session = ort.InferenceSession(args.model, options, providers=["CPUExecutionProvider"])
    output = pick_output(session)
    try:
        import tokenizers  # noqa: F401

        has_tokenizers = True
    except ImportError:
        has_tokenizers = False

    results = {}
    check = []
    for size, batches in data["batches"].items():
        feeds = [feeds_for(session, b) for b in batches]
        session.run([output], feeds[0])  # warm-up
        best = float("inf")
        for _ in range(max(1, args.rounds)):
            start = time.perf_counter()
            for f in feeds:
                session.run([output], f)
            best = min(best, time.perf_counter() - start)
        texts = sum(b["rows"] for b in batches)
        results[size] = {"texts": texts, "seconds": best, "texts_per_second": texts / best}
        if has_tokenizers and data.get("texts"):
            one_pass = end_to_end(session, output, data, int(size))
            one_pass()  # warm-up
            best_e2e = float("inf")
            for _ in range(max(1, args.rounds)):
                start = time.perf_counter()
                one_pass()
                best_e2e = min(best_e2e, time.perf_counter() - start)
            results[size]["e2e_texts_per_second"] = len(data["texts"]) / best_e2e
        if size == data.get("check"):
            for f, b in zip(feeds, batches):
                check.extend(summarise(session.run([output], f)[0], b))

    json.dump(
        {
            "onnxruntime": ort.__version__,
            "python": sys.version.split()[0],
            "output": output,
            "tokenizers": has_tokenizers,
            "results": results,
            "check": check,
        },
        sys.stdout,
    )
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
