"""Code generators: a fused kernel in, source text out (NumPy Python, OpenCL C). They
read the IR and the op table only; nothing here runs code."""
