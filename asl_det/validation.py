"""Argument checks shared by the whole package: one message format for every range error."""
import math
import numbers
import os
import sys


def check_number(name: str, value, low: float = -math.inf, high: float = math.inf,
                 high_open: bool = False) -> float:
    """Return ``value`` if it is a finite real in ``[low, high]`` (``[low, high)`` if high_open).

    Raises:
        TypeError: ``value`` is not a real number (bools are refused).
        ValueError: it is NaN, infinite or out of range; the message names ``name`` and the range.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f'{name} must be a number, got {type(value).__name__}')
    upper_ok = value < high if high_open else value <= high
    if not (math.isfinite(value) and value >= low and upper_ok):
        bracket = ')' if high_open else ']'
        raise ValueError(f'{name} must be in [{low}, {high}{bracket}, got {value}')
    return value


def check_int(name: str, value, low: int = 0, high: float = math.inf) -> int:
    """Return ``value`` if it is an int (not a bool) in ``[low, high]``.

    Raises TypeError (not an integer) or ValueError (out of range), naming ``name``.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f'{name} must be an integer, got {type(value).__name__}')
    if not low <= value <= high:
        raise ValueError(f'{name} must be an integer in [{low}, {high}], got {value}')
    return int(value)


def int_argument(low: int = 0, high: float = math.inf):
    """An ``argparse`` ``type``: an integer in ``[low, high]``, checked by :func:`check_int`
    (argparse names the option: ``argument --workers: the value must be an integer in ...``)."""
    import argparse

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f'the value must be an integer, got {text!r}') from None
        try:
            return check_int('the value', value, low, high)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return parse


def check_device(name: str, device: str) -> str:
    """Return ``device`` if torch names a device by it (``cpu``, ``cuda``, ``cuda:1``, ...) and,
    for CUDA, this machine has that GPU.

    Raises ValueError naming ``name``: not a device name, or a CUDA device that is not here.
    """
    import torch
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f'{name} must be a torch device such as cpu, cuda or cuda:0, got '
                         f'{device!r}') from None
    if parsed.type == 'cuda':
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if (parsed.index or 0) >= count:
            raise ValueError(f'{name} is {device!r}, but this machine has {count} CUDA '
                             f'device(s)')
    return device


def check_bool(name: str, value) -> bool:
    """``value`` as a bool if it is one: a bool, a numpy or torch bool, or the integer 0 or 1
    (``--cfg-options key=0`` parses to an int); TypeError naming ``name`` otherwise (a string
    such as ``'False'`` would count as true)."""
    one_bool = (str(getattr(value, 'dtype', '')) in ('bool', 'torch.bool')
                and getattr(value, 'shape', None) == ())
    if one_bool or (isinstance(value, numbers.Integral) and value in (0, 1)):
        return bool(value)
    raise TypeError(f'{name} must be True or False, got {value!r}')


def check_png_output(name: str, path: str) -> str:
    """``path`` if it names a ``.png`` file (its folder is made when the picture is saved);
    ValueError naming ``name`` otherwise, found before the work that makes the picture."""
    if not str(path).lower().endswith('.png'):
        raise ValueError(f'{name} must name a .png file, got {path!r}')
    return path


def check_distinct(name: str, values) -> list:
    """``values`` as a list if none repeats; ValueError naming ``name`` and the repeated ones
    (runs, splits, ... told apart by them)."""
    values = list(values)
    repeated = sorted({str(v) for v in values if values.count(v) > 1})
    if repeated:
        raise ValueError(f'{name} must differ: {", ".join(repeated)} given more than once')
    return values


def error_line(message) -> str:
    """``<tool>: error: <message>``, the line argparse reports a usage error with."""
    return f'{os.path.basename(sys.argv[0])}: error: {message}'


def usage_error(error) -> int:
    """Print :func:`error_line` of ``error`` on stderr and return its exit status 2, as argparse
    does (``sys.exit(usage_error(error))``): for a usage error found after parsing."""
    print(error_line(error), file=sys.stderr)
    return 2
