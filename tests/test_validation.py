"""asl_det.validation's argparse type: an option's integer range, named by argparse."""
import argparse

import pytest

from asl_det.validation import int_argument


@pytest.mark.parametrize('text,message', [
    ('-1', 'argument --workers: the value must be an integer in [0, inf], got -1'),
    ('2.5', "argument --workers: the value must be an integer, got '2.5'"),
    ('many', "argument --workers: the value must be an integer, got 'many'"),
])
def test_int_argument_refuses_with_the_option_and_range(text, message, capsys):
    parser = argparse.ArgumentParser()
    parser.add_argument('--workers', type=int_argument(0), default=0)
    assert parser.parse_args(['--workers', '3']).workers == 3
    with pytest.raises(SystemExit):
        parser.parse_args(['--workers', text])
    assert message in capsys.readouterr().err


def test_int_argument_upper_bound(capsys):
    parser = argparse.ArgumentParser()
    parser.add_argument('--n', type=int_argument(1, 8))
    assert parser.parse_args(['--n', '8']).n == 8
    with pytest.raises(SystemExit):
        parser.parse_args(['--n', '9'])
    assert 'the value must be an integer in [1, 8], got 9' in capsys.readouterr().err
