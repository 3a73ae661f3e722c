"""pynn: build, train and look inside small neural networks. numpy and a compiled C core; no terminal code."""

__version__ = "0.1.0"
