"""Torch-free inference: generate text from an exported language model with onnxruntime.

`rnnkit.runtime.onnx_lm` loads an export folder (`model.onnx`, one decoding step;
`vocab.json`; `model.json`) as an `OnnxLM` and runs `generate` / `stream` with the same
options, prefix rules and checks as `rnnkit.generate` / `rnnkit.stream`, using only numpy
and onnxruntime (never torch)::

    from rnnkit.runtime.onnx_lm import generate, load_onnx
    lm = load_onnx("exports/demo")             # or exports/demo/model.onnx
    generate(lm, "the ", 100, temperature=0)   # -> list[str]
"""
