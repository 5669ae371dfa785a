"""Decoding without torch: what the torch path (`rnnkit.lm`), the ONNX runtime
(`rnnkit.runtime`), the command line and the playground (`rnnkit.serve`) share.

- `options.py`: `SamplingOptions`, their limits and checks, and `SamplingKwargs`, the
  keyword arguments of every `generate` / `stream`, declared once.
- `prefix.py`: a typed prefix as the model reads it, and new tokens joined onto it.
- `protocol.py`: `LanguageModel`, which `LoadedLM` (torch) and `OnnxLM` (runtime) implement.
- `backend.py`: `choose_backend` and `load_backend`, a checkpoint or an export as a
  `LanguageModel`.

Nothing here imports torch or `rnnkit.lm`. `backend.py` sits above the rest (its
`load_backend` imports the backend it loads, `rnnkit.lm` or `rnnkit.runtime`), so this
package's face does not import it: `from rnnkit.decode.backend import load_backend`.
"""

from rnnkit.decode.options import SamplingKwargs, SamplingOptions
from rnnkit.decode.protocol import LanguageModel

__all__ = ["LanguageModel", "SamplingKwargs", "SamplingOptions"]
