"""Export fitted softreg classifiers to ONNX, with a parity check in onnxruntime.

`export_onnx` writes the file (``onnx_graph`` builds the graph, ``parity`` proves it);
`read_metadata` reads back what softreg recorded in it. Needs the ``onnx`` extra
(``pip install 'softreg[onnx]'``), imported only when used.
"""

from softreg.export.api import export_onnx, read_metadata
from softreg.export.parity import ParityError

__all__ = ["ParityError", "export_onnx", "read_metadata"]
