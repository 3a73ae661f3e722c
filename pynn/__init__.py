"""pynn: build, train and look inside small neural networks. numpy and a compiled C core; no terminal code.

Importing pynn loads nothing else, so a worker process can set its thread count before the compiled core loads;
each name here imports what it needs when called.
"""

__version__ = "0.1.0"


def load(path):
    """The model saved at path by pynn.files.save_model (pynn.files.load_model also gives the file's header)."""
    from pynn.files import load_model

    return load_model(path)[0]
