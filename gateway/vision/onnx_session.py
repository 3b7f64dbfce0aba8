"""Create onnxruntime CPU sessions the same way for every model (threads, logging, no telemetry).

Tuning, measured on the 2-core development box (`menwei bench` compares it with the previous
settings in the same run): graph optimisation at ORT_ENABLE_ALL; the intra-op pool does not
spin-wait between runs (with liveness and embedding running side by side, a spinning pool burns
the core the other model needs).

Denormals are NOT flushed by onnxruntime (`session.set_denormal_as_zero`): that option sets the
FTZ/DAZ flags of the thread creating the session, i.e. for all of numpy in that thread afterwards
(it made mobilefacenet_convert see no denormal weights and build the wrong bytes). Denormal weights
are flushed at conversion instead (mobilefacenet_convert), and the negligible weights that make
denormal activations at load (graph_rewrite), where it is deterministic and local to the model.

Tuned sessions also run the model with in-memory graph rewrites that keep its numbers
(vision.graph_rewrite): negligible weights flushed (no denormal activations); on x86-64, pruned
channels padded and PRelu expressed so onnxruntime keeps them in its NCHWc layout; and, when the
caller asks for it, a batch-1 graph freed to take a batch. The verified file on disk is never
changed.
"""

from __future__ import annotations

import platform
from pathlib import Path

import onnxruntime as ort

from gateway.vision.graph_rewrite import (
    flush_negligible_weights,
    free_batch,
    pad_channels,
    prelu_as_convolutions,
)
from gateway.vision.onnx_proto import load_model

# onnxruntime has NCHWc kernels only on x86-64 (AVX2 / AVX-512): elsewhere the NCHWc rewrites
# would only add operations.
NCHWC_CPU = platform.machine().lower() in {"x86_64", "amd64"}


def session_options(threads: int, *, tuned: bool = True) -> ort.SessionOptions:
    """CPU session options with `threads` intra-op threads; `tuned=False` gives the settings menwei
    used before (spinning pool), which the benchmark measures as its reference."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    if tuned:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


def model_source(model_path: Path, *, batch: bool = False) -> str | bytes:
    """What a tuned session loads: the file itself, or its bytes after the rewrites that keep its
    numbers (negligible weights flushed; on x86-64, pruned channels padded and PRelu as NCHWc
    operations; with `batch`, a batch-1 graph freed to take a batch)."""
    model = load_model(model_path)
    changed = flush_negligible_weights(model) > 0
    if NCHWC_CPU:
        changed = pad_channels(model) > 0 or changed
        changed = prelu_as_convolutions(model) > 0 or changed
    if batch:
        changed = free_batch(model) or changed
    return model.SerializeToString() if changed else str(model_path)


def open_session(
    model_path: Path, threads: int = 2, *, tuned: bool = True, batch: bool = False
) -> ort.InferenceSession:
    """An InferenceSession on the CPU with `threads` intra-op threads and quiet logging; tuned,
    it runs the rewritten graph (`model_source`), untuned the file exactly as before."""
    source = model_source(model_path, batch=batch) if tuned else str(model_path)
    return ort.InferenceSession(
        source,
        sess_options=session_options(threads, tuned=tuned),
        providers=["CPUExecutionProvider"],
    )
