"""Export a model version's transformer to ONNX, for grading processes that run ONNX Runtime instead of torch."""

from __future__ import annotations

import logging
from pathlib import Path

from grader.scoring.model import ONNX_FILE, ONNX_INT8_FILE

INPUTS = ["input_ids", "attention_mask", "token_type_ids"]


def export_onnx(model_dir: str | Path) -> Path:
    """Write ``model_dir/onnx/model.onnx``: the transformer's token embeddings for dynamic batch and length.

    Run where torch is (training), before the version's files are hashed and stored; pooling and normalizing
    stay in grader.scoring.model, shared by both backends.
    """
    import torch
    from transformers import AutoModel

    model_dir = Path(model_dir)
    model = AutoModel.from_pretrained(str(model_dir)).eval()

    class TokenEmbeddings(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    example = torch.ones((2, 8), dtype=torch.int64)
    target = model_dir / ONNX_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    with torch.inference_mode():
        torch.onnx.export(
            TokenEmbeddings(),
            (example, example, torch.zeros_like(example)),
            str(target),
            input_names=INPUTS,
            output_names=["last_hidden_state"],
            dynamic_axes={name: {0: "batch", 1: "tokens"} for name in [*INPUTS, "last_hidden_state"]},
            opset_version=17,
            dynamo=False,  # the TorchScript exporter: no onnxscript needed, and BERT exports cleanly
        )
    quantize_onnx(model_dir)
    return target


def quantize_onnx(model_dir: str | Path) -> Path:
    """Write ``model_dir/onnx/model_int8.onnx`` from ``model.onnx``: weights in int8, one scale per output channel,
    activations quantized on the fly (ONNX Runtime's dynamic quantization; no calibration data needed).

    Per channel: one scale per matrix, as by default, moved Mohler cosines by up to 0.14 (mean 0.025); one per
    channel by up to 0.065 (mean 0.012), at the same speed. Signed int8 weights: unsigned ones ran no faster than
    float here (ONNX Runtime has fast kernels for u8 activations with s8 weights only).
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model_dir = Path(model_dir)
    target = model_dir / ONNX_INT8_FILE
    # The quantizer logs ~36 INFO lines per model on the root logger ("Quantization parameters for tensor ... not
    # specified"): noise in the training worker's log, dropped while it runs; its warnings still get through.
    root = logging.getLogger()
    root.addFilter(_quiet_quantizer)
    try:
        quantize_dynamic(str(model_dir / ONNX_FILE), str(target), weight_type=QuantType.QInt8, per_channel=True)
    finally:
        root.removeFilter(_quiet_quantizer)
    return target


def _quiet_quantizer(record: logging.LogRecord) -> bool:
    return record.levelno >= logging.WARNING or "onnxruntime" not in record.pathname
