"""Build the sentence embedder as one ONNX graph, straight from the BERT weights.

    input_ids, attention_mask (int64, [batch, seq])
      -> word + position + token-type(0) embeddings -> LayerNorm
      -> N x (self-attention with the padding mask -> dense -> add & LayerNorm
              -> dense -> GELU (erf) -> dense -> add & LayerNorm)
      -> mean over the unmasked tokens -> L2 normalise -> embedding (float32, [batch, hidden])

Self-attention and the bias + GELU are ONNX Runtime contrib operators (``com.microsoft``
Attention and BiasGelu): its CPU provider runs each as one kernel, and ``quantize_dynamic``
turns Attention into an int8 QAttention. Everything else is standard ONNX (opset 18).
The residual add + LayerNorm is deliberately left as Add + LayerNormalization: the fused
SkipLayerNormalization kernel measured 4x slower on this CPU (see onnx_embedder.SESSION_OFF).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
from onnx import TensorProto, helper, numpy_helper

from paperwire.embed.model_files import BertConfig

OPSET = 18
Weights = dict[str, npt.NDArray[Any]]


class _Builder:
    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.names: set[str] = set()

    def const(self, name: str, value: npt.ArrayLike, dtype: Any = np.float32) -> str:
        """An initializer; a name already defined is reused (shared scalars)."""
        if name not in self.names:
            self.names.add(name)
            self.inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def op(self, op_type: str, *inputs: str, ms: bool = False, **attrs: Any) -> str:
        out = f"{op_type.lower()}_{len(self.nodes)}"
        domain = "com.microsoft" if ms else None
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], domain=domain, **attrs))
        return out


def build_model(w: Weights, cfg: BertConfig) -> onnx.ModelProto:
    b = _Builder()
    one, two = b.const("i64_1", [1], np.int64), b.const("i64_2", [2], np.int64)
    zero = b.const("i64_0", [0], np.int64)

    # embeddings: token type is always 0, so its row is folded into the position table
    word = b.const("word_emb", w["embeddings.word_embeddings.weight"])
    pos = b.const("pos_emb", w["embeddings.position_embeddings.weight"]
                  + w["embeddings.token_type_embeddings.weight"][0])
    seq = b.op("Gather", b.op("Shape", "input_ids"), one, axis=0)
    x = b.op("Add", b.op("Gather", word, "input_ids", axis=0), b.op("Slice", pos, zero, seq, zero))
    x = _layer_norm(b, x, w, "embeddings.LayerNorm", cfg.eps)

    mask = b.op("Cast", "attention_mask", to=TensorProto.INT32)
    for i in range(cfg.layers):
        x = _layer(b, x, mask, w, f"encoder.layer.{i}.", cfg)

    # mean pooling over the attention mask, then L2 normalisation
    m = b.op("Unsqueeze", b.op("Cast", "attention_mask", to=TensorProto.FLOAT), two)
    total = b.op("ReduceSum", b.op("Mul", x, m), one, keepdims=0)
    count = b.op("Max", b.op("ReduceSum", m, one, keepdims=0), b.const("eps_count", 1e-9))
    mean = b.op("Div", total, count)
    last = b.const("axis_last", [-1], np.int64)
    norm = b.op("Max", b.op("ReduceL2", mean, last, keepdims=1), b.const("eps_norm", 1e-12))
    b.nodes.append(helper.make_node("Div", [mean, norm], ["embedding"]))

    graph = helper.make_graph(
        b.nodes, "sentence_embedder",
        [helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "seq"])
         for n in ("input_ids", "attention_mask")],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", cfg.hidden])],
        b.inits,
    )
    model = helper.make_model(
        graph, producer_name="paperwire.embed",
        opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid("com.microsoft", 1)],
    )
    model.ir_version = 8
    return model


def _layer(b: _Builder, x: str, mask: str, w: Weights, p: str, cfg: BertConfig) -> str:
    a = p + "attention."
    qkv = [a + f"self.{n}" for n in ("query", "key", "value")]
    wqkv = b.const(a + "qkv.weight", np.concatenate([w[q + ".weight"].T for q in qkv], axis=1))
    bqkv = b.const(a + "qkv.bias", np.concatenate([w[q + ".bias"] for q in qkv]))
    ctx = b.op("Attention", x, wqkv, bqkv, mask, ms=True, num_heads=cfg.heads)
    x = _add_norm(b, _linear(b, ctx, w, a + "output.dense"), x, w, a + "output.LayerNorm", cfg)
    f = p + "intermediate.dense"
    h = b.op("MatMul", x, b.const(f + ".weight", w[f + ".weight"].T))
    h = b.op("BiasGelu", h, b.const(f + ".bias", w[f + ".bias"]), ms=True)
    return _add_norm(b, _linear(b, h, w, p + "output.dense"), x, w, p + "output.LayerNorm", cfg)


def _linear(b: _Builder, x: str, w: Weights, p: str) -> str:
    """x @ W.T + bias (torch's Linear stores W as [out, in])."""
    return b.op("Add", b.op("MatMul", x, b.const(p + ".weight", w[p + ".weight"].T)),
                b.const(p + ".bias", w[p + ".bias"]))


def _add_norm(b: _Builder, h: str, skip: str, w: Weights, p: str, cfg: BertConfig) -> str:
    return _layer_norm(b, b.op("Add", h, skip), w, p, cfg.eps)


def _layer_norm(b: _Builder, x: str, w: Weights, p: str, eps: float) -> str:
    return b.op("LayerNormalization", x, b.const(p + ".weight", w[p + ".weight"]),
                b.const(p + ".bias", w[p + ".bias"]), axis=-1, epsilon=eps)
