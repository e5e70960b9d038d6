"""What ``tools/infer.py`` reads and writes, checked before any image is processed.

INPUTS is one image, a folder (its images, not its sub-folders, as ``DetInferencer`` lists a
folder) or a glob pattern; the output folder must be writable. Every problem is an
:class:`InferenceSetupError` whose message starts with the argument it is about.
"""
import glob
import os
import os.path as osp
import tempfile
from typing import Dict, List, Sequence

#: Image file extensions of a folder or glob, as mmdet's ``DetInferencer`` lists a folder
#: (compared case-insensitively here).
IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif', '.tiff', '.webp')
#: Of those, the formats OpenCV writes in grey only: no colour picture can be saved under the
#: input's name, as ``DetInferencer`` saves ``vis/<file name>``.
GREY_ONLY_EXTENSIONS = ('.pgm', )


class InferenceSetupError(ValueError):
    """A user error found before any image is processed; the message names the argument."""


def is_image_name(path: str) -> bool:
    return path.lower().endswith(IMG_EXTENSIONS)


#: What ``DetInferencer`` writes for an image, flat under its output folder, by kind.
OUTPUT_NAMES = {'vis': lambda path: f'vis/{osp.basename(path)}',
                'preds': lambda path: f'preds/{osp.splitext(osp.basename(path))[0]}.json'}


def list_images(inputs: str, name: str = 'INPUTS',
                outputs: Sequence[str] = tuple(OUTPUT_NAMES)) -> List[str]:
    """The image paths ``inputs`` stands for, sorted: the file itself, a folder's image files
    (:data:`IMG_EXTENSIONS`), or the image files a glob pattern matches (``**`` recurses).

    Raises:
        InferenceSetupError: nothing exists at ``inputs``; a folder or pattern without images;
            two images whose outputs of the kinds ``outputs`` would have the same name
            (:func:`check_distinct_names`).
    """
    if osp.isdir(inputs):
        paths = [osp.join(inputs, entry) for entry in sorted(os.listdir(inputs))
                 if is_image_name(entry) and osp.isfile(osp.join(inputs, entry))]
        if not paths:
            raise InferenceSetupError(f'{name}: the folder {inputs!r} holds no image files '
                                      f'({" ".join(IMG_EXTENSIONS)})')
    elif osp.isfile(inputs):
        paths = [inputs]
    elif glob.has_magic(inputs):
        paths = sorted(path for path in glob.glob(inputs, recursive=True)
                       if is_image_name(path) and osp.isfile(path))
        if not paths:
            raise InferenceSetupError(f'{name}: the pattern {inputs!r} matches no image files '
                                      f'({" ".join(IMG_EXTENSIONS)})')
    else:
        raise InferenceSetupError(f'{name}: no file, folder or glob match at {inputs!r}')
    check_distinct_names(paths, name, outputs)
    return paths


def check_distinct_names(paths: List[str], name: str = 'INPUTS',
                         outputs: Sequence[str] = tuple(OUTPUT_NAMES)) -> None:
    """Raise unless the outputs of ``paths`` of the kinds ``outputs`` (of
    :data:`OUTPUT_NAMES`) have distinct names: ``DetInferencer`` names them by file name."""
    for kind in outputs:
        seen: Dict[str, str] = {}
        for path in paths:
            output = OUTPUT_NAMES[kind](path)
            if output in seen:
                raise InferenceSetupError(
                    f'{name}: {seen[output]!r} and {path!r} would both be written as {output} '
                    '(outputs are named by file name): run them separately')
            seen[output] = path


def check_outputs_spare_inputs(paths: List[str], out_dir: str,
                               outputs: Sequence[str] = tuple(OUTPUT_NAMES),
                               name: str = '--out-dir') -> None:
    """Raise if an output of the kinds ``outputs`` under ``out_dir`` would be written over one
    of the input ``paths`` (``--out-dir`` above the images' folder, e.g. ``photos/`` for
    ``photos/vis/``), before any image is processed."""
    inputs = {osp.realpath(path): path for path in paths}
    for kind in outputs:
        for path in paths:
            target = osp.realpath(osp.join(out_dir, OUTPUT_NAMES[kind](path)))
            if target in inputs:
                raise InferenceSetupError(
                    f'{name}: {out_dir!r} would write {OUTPUT_NAMES[kind](path)} over the input '
                    f'{inputs[target]!r}: choose another output folder')


def check_pictures_writable(paths: List[str], name: str = 'INPUTS') -> None:
    """Raise if a picture of ``paths`` cannot be saved under its own name in colour
    (:data:`GREY_ONLY_EXTENSIONS`), before any image is processed."""
    grey = [path for path in paths if path.lower().endswith(GREY_ONLY_EXTENSIONS)]
    if grey:
        more = f' and {len(grey) - 1} more' if len(grey) > 1 else ''
        raise InferenceSetupError(
            f'{name}: {grey[0]!r}{more}: the picture with boxes is saved as vis/<file name>, in '
            f'colour, and OpenCV writes {"/".join(GREY_ONLY_EXTENSIONS)} in grey only: pass '
            '--no-save-vis (predictions are still saved) or convert the images, e.g. to .png')


def prepare_output_dir(out_dir: str, name: str = '--out-dir') -> str:
    """Create ``out_dir`` if needed and check that a file can be written in it; returns it.

    Raises:
        InferenceSetupError: it cannot be created or written (the reason from the OS).
    """
    if not out_dir:
        raise InferenceSetupError(f'{name}: an output folder is needed to save results, got '
                                  f'{out_dir!r}')
    try:
        os.makedirs(out_dir, exist_ok=True)
        with tempfile.TemporaryFile(dir=out_dir):
            pass
    except OSError as error:
        raise InferenceSetupError(f'{name}: cannot write to {out_dir!r} '
                                  f'({type(error).__name__}: {error.strerror or error})') from None
    return out_dir
