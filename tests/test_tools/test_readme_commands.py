"""Every ``python tools/...`` command the documents show (README.md, docs/*.md, configs/ and
tests/ READMEs) parses with that tool's own parser.

The commands are not run: each tool's ``parse_args()`` reads the document's arguments, so a flag
renamed in a tool (or mistyped in a document) fails here. ``[...]`` marks optional arguments in
the documents; they are checked too.
"""
import glob
import importlib.util
import os.path as osp
import re
import shlex
import sys

import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DOCS = ('README.md', *sorted(osp.relpath(path, REPO) for path in glob.glob(
    osp.join(REPO, 'docs', '*.md'))), osp.join('configs', 'README.md'),
    osp.join('tests', 'README.md'))
COMMAND = re.compile(r'python (tools/[\w/]+\.py)((?:\\\n|[^`\n])*)')


def readme_commands():
    """(document, tool path, argument list) for each command in the repository's docs."""
    found = []
    for doc in DOCS:
        path = osp.join(REPO, doc)
        if not osp.isfile(path):
            continue
        with open(path) as f:
            text = f.read()
        for match in COMMAND.finditer(text):
            args = match.group(2).replace('\\\n', ' ').split('#')[0]
            args = args.replace('[', ' ').replace(']', ' ')
            found.append((doc, match.group(1), shlex.split(args)))
    return found


COMMANDS = readme_commands()


def test_the_readme_shows_tool_commands():
    tools = {tool for doc, tool, _ in COMMANDS if doc == 'README.md'}
    assert {'tools/train.py', 'tools/test.py', 'tools/infer.py', 'tools/study.py',
            'tools/voc_to_coco.py', 'tools/yolo_to_coco.py', 'tools/preflight.py'} <= tools
    docs = {doc for doc, _, _ in COMMANDS}
    assert {osp.join('docs', 'studies.md'), osp.join('docs', 'speed.md')} <= docs


IDS = [f'{doc}:{tool} {" ".join(args)}'[:90] for doc, tool, args in COMMANDS]


@pytest.mark.parametrize('doc,tool,args', COMMANDS, ids=IDS)
def test_readme_command_parses(doc, tool, args, monkeypatch, capsys):
    path = osp.join(REPO, tool)
    assert osp.isfile(path), f'{doc} shows {tool}, which does not exist'
    spec = importlib.util.spec_from_file_location(f'readme_tool_{osp.basename(tool)[:-3]}', path)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setattr(sys, 'argv', [path] + args)
    spec.loader.exec_module(module)
    try:
        module.parse_args()
    except SystemExit as exit_:
        pytest.fail(f'{doc}: `python {tool} {" ".join(args)}` is refused by its parser '
                    f'(exit {exit_.code}): {capsys.readouterr().err.strip()}')
