"""labeltool: label images for semantic segmentation with a neural network doing most of the work."""

__version__ = "0.1.0"
