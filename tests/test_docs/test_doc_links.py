"""Every relative link in README.md and docs/*.md resolves: to a file of the repository and, for
``#anchor``, to a heading of the target markdown file (GitHub's anchor of the heading)."""
import os.path as osp
import re

import pytest

from asl_det.benchmark.study.verdict_blocks import document_paths

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DOCUMENTS = [osp.relpath(path, REPO) for path in document_paths(REPO)]
FENCE = re.compile(r'^```.*?^```', re.MULTILINE | re.DOTALL)
INDENTED = re.compile(r'^(?: {4}|\t).*$', re.MULTILINE)
INLINE_CODE = re.compile(r'`[^`\n]*`')
LINK = re.compile(r'!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)')
HEADING = re.compile(r'^#{1,6}\s+(.*?)\s*#*\s*$', re.MULTILINE)


def prose(text):
    """``text`` without code: fenced blocks, indented blocks and inline code."""
    return INLINE_CODE.sub('', INDENTED.sub('', FENCE.sub('', text)))


def anchor(heading):
    """GitHub's anchor for a heading: lower case, markup and punctuation but ``-`` and ``_``
    dropped, spaces to ``-``."""
    text = re.sub(r'\[([^\]]*)\]\([^)]*\)', r'\1', heading).replace('`', '').lower()
    return re.sub(r'[^\w\- ]', '', text).replace(' ', '-')


def anchors(path):
    with open(path, encoding='utf-8') as f:
        text = FENCE.sub('', f.read())
    seen, found = {}, set()
    for heading in HEADING.findall(text):
        name = anchor(heading)
        found.add(name if name not in seen else f'{name}-{seen[name]}')
        seen[name] = seen.get(name, 0) + 1
    return found


def links(doc):
    with open(osp.join(REPO, doc), encoding='utf-8') as f:
        return [target for target in LINK.findall(prose(f.read()))
                if not re.match(r'[a-z][a-z0-9+.-]*:', target)]  # http:, https:, mailto:


def test_github_anchors():
    assert anchor('Scores: `score_activation`') == 'scores-score_activation'
    assert anchor('Real images: BCCD blood cells') == 'real-images-bccd-blood-cells'
    assert anchor('Adaptive asymmetry (paper, section 2.7)') == (
        'adaptive-asymmetry-paper-section-27')


def test_the_readme_links_every_doc():
    linked = {osp.normpath(target.split('#')[0]) for target in links('README.md')}
    assert {doc for doc in DOCUMENTS if doc != 'README.md'} <= linked


@pytest.mark.parametrize('doc', DOCUMENTS)
def test_every_relative_link_resolves(doc):
    broken = []
    for target in links(doc):
        path, _, fragment = target.partition('#')
        full = osp.normpath(osp.join(REPO, osp.dirname(doc), path)) if path else \
            osp.join(REPO, doc)
        if not osp.exists(full):
            broken.append(f'{target}: no file {osp.relpath(full, REPO)}')
        elif fragment and (not full.endswith('.md') or fragment not in anchors(full)):
            broken.append(f'{target}: no heading with the anchor #{fragment}')
    assert not broken, f'{doc} has broken links:\n' + '\n'.join(broken)
