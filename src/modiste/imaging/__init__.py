"""Safe image decoding, storage and hashing."""

from modiste.imaging.decode import ALLOWED_FORMATS, DecodedImage, decode_image, sniff_format

__all__ = ["ALLOWED_FORMATS", "DecodedImage", "decode_image", "sniff_format"]
