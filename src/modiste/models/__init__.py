"""Models: backbones, weights, embedders, heads, detector, OCR. Heavy imports stay inside."""
