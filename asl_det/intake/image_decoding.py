"""Decode images the way mmcv's ``LoadImageFromFile`` does, and catch the files it cannot use.

A file is bad when ``mmcv.imfrombytes`` raises or returns None (``LoadImageFromFile`` then fails
with "failed to load image"), or when a JPEG or PNG lacks its end marker (``FF D9``, ``IEND``)
and PIL, with ``LOAD_TRUNCATED_IMAGES`` off, cannot decode it fully either. The second test is
for decoders that return a grey-filled partial image with only a warning ("Premature end of JPEG
file", OpenCV 4.x). With the OpenCV 5.1 of this project's environment ``cv2.imdecode`` returns
None for a JPEG that lacks even its last 2 bytes, and mmcv's ``'pillow'`` backend raises
``OSError: image file is truncated``; both count as bad. Trailing bytes after a complete image
are allowed (PIL decodes such files).

:func:`loaded_size` gives the size an image will have once loaded, from its header alone (what
the converters write into the COCO json).
"""
import io
import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from typing import List, Optional, Sequence, Tuple

import cv2
import mmcv
from mmengine import fileio
from PIL import Image, ImageFile

from asl_det.validation import check_int

#: What the decoders raise on bad data: PIL (mmcv's 'pillow' backend) OSError (incl.
#: UnidentifiedImageError), SyntaxError or ValueError, or DecompressionBombError for a huge
#: image; tifffile a ValueError; OpenCV cv2.error. Anything else is a bug and propagates.
PIL_ERRORS = (OSError, SyntaxError, ValueError, Image.DecompressionBombError)
DECODE_ERRORS = PIL_ERRORS + (cv2.error, )
#: Image files the converters pick up (OpenCV decodes them all).
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')
#: EXIF orientations that turn the image a quarter: width and height swap once applied.
QUARTER_TURNS = (5, 6, 7, 8)
#: Formats whose size PIL reports with the orientation applied already (its TIFF plugin swaps
#: width and height for a quarter turn); the others report the stored size.
SIZED_AS_TURNED = ('TIFF', )
#: Held while :func:`loaded_size` has PIL's pixel limit lifted, so that concurrent calls
#: neither open a file with the limit back in force nor leave it lifted.
_PIXEL_LIMIT_LIFTED = threading.Lock()
EXIF_ORIENTATION = 0x0112
END_MARKERS = {  # format: (start of file, end of a complete file)
    'JPEG': (b'\xff\xd8', b'\xff\xd9'),
    'PNG': (b'\x89PNG\r\n\x1a\n', b'IEND\xaeB`\x82'),
}

Decoded = Tuple[int, int, Optional[str]]  # (height, width) in pixels, problem or None


def decode_image(path: str, backend: str = 'cv2', color_type: str = 'color') -> Decoded:
    """(height, width, None) of the image at ``path`` as ``LoadImageFromFile(color_type=...,
    imdecode_backend=backend)`` loads it, or (0, 0, problem) when that fails or the file is
    truncated."""
    try:
        data = fileio.get(path)
    except OSError as error:
        return 0, 0, f'cannot be read ({type(error).__name__}: {error})'
    if not data:
        return 0, 0, 'empty file (0 bytes)'
    try:
        img = mmcv.imfrombytes(data, flag=color_type, backend=backend)
    except DECODE_ERRORS as error:  # LoadImageFromFile would raise it too
        return 0, 0, f'mmcv.imfrombytes(backend={backend!r}) raises {type(error).__name__}: {error}'
    if img is None:
        return 0, 0, f'mmcv.imfrombytes(backend={backend!r}) returns None (undecodable)'
    truncation = find_truncation(data)
    if truncation is not None:
        return 0, 0, truncation
    return int(img.shape[0]), int(img.shape[1]), None


def _exif(image: Image.Image) -> Image.Exif:
    """The EXIF of an opened image, from its header: a PNG's ``eXIf`` chunk as PIL read it
    before the pixels (where the PNG specification puts it; ``getexif()`` would decode the
    whole image to look after them, 50 ms for a 3-megapixel PNG)."""
    if image.format != 'PNG':
        return image.getexif()
    exif = Image.Exif()
    if image.info.get('exif'):
        exif.load(image.info['exif'])
    return exif


def loaded_size(path: str) -> Tuple[int, int]:
    """(width, height) in pixels of the image at ``path`` as ``LoadImageFromFile`` loads it with
    its default ``color_type='color'``: ``cv2.imdecode(IMREAD_COLOR)`` and mmcv's ``'pillow'``
    backend turn the image by its EXIF orientation, so a quarter turn swaps the header's width
    and height (as Ultralytics' ``exif_size`` does). Reads the header only (a PNG's EXIF chunk
    before its pixels, where the specification puts it). PIL's decompression-bomb limit
    (``Image.MAX_IMAGE_PIXELS``, 179 megapixels by default) does not apply: OpenCV, mmcv's
    default backend, loads larger images. The limit is lifted while the header is read, one
    call at a time (safe in threads calling this function; other PIL calls in other threads see
    no limit meanwhile).

    Raises:
        OSError: the file cannot be read or is not an image PIL knows.
    """
    with _PIXEL_LIMIT_LIFTED:
        limit = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None
        try:
            with Image.open(path) as image:
                width, height = image.size
                orientation = _exif(image).get(EXIF_ORIENTATION, 1)
                turned_already = image.format in SIZED_AS_TURNED
        except OSError:
            raise
        except PIL_ERRORS as error:  # e.g. SyntaxError for a broken PNG header
            raise OSError(f'{type(error).__name__}: {error}') from error
        finally:
            Image.MAX_IMAGE_PIXELS = limit
    if orientation in QUARTER_TURNS and not turned_already:
        return height, width
    return width, height


def find_truncation(data: bytes) -> Optional[str]:
    """None, or why ``data`` (a JPEG or PNG file's bytes) is truncated; other formats: None."""
    for kind, (start, end) in END_MARKERS.items():
        if data.startswith(start):
            break
    else:
        return None
    if data.rstrip(b'\x00').endswith(end):
        return None
    allow_truncated = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
    except PIL_ERRORS as error:
        return f'truncated {kind} (no end marker; PIL: {error})'
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = allow_truncated
    return None


def decode_images(paths: Sequence[str], backend: str = 'cv2', color_type: str = 'color',
                  workers: int = 0) -> List[Decoded]:
    """:func:`decode_image` of every path, in order, in ``workers`` processes (0: one per CPU;
    1: in this process)."""
    workers = check_int('workers', workers, 0) or os.cpu_count() or 1  # 0: one per CPU
    workers = min(workers, len(paths))
    if workers <= 1:
        return [decode_image(path, backend, color_type) for path in paths]
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context('fork' if 'fork' in methods else None)
    chunksize = max(1, min(64, len(paths) // (4 * workers)))
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        return list(pool.map(partial(decode_image, backend=backend, color_type=color_type),
                             paths, chunksize=chunksize))
