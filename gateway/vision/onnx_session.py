"""Create onnxruntime CPU sessions the same way for every model (threads, logging, no telemetry)."""

from __future__ import annotations

from pathlib import Path

import onnxruntime as ort


def open_session(model_path: Path, threads: int = 2) -> ort.InferenceSession:
    """An InferenceSession on the CPU with `threads` intra-op threads and quiet logging."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    return ort.InferenceSession(
        str(model_path), sess_options=options, providers=["CPUExecutionProvider"]
    )
