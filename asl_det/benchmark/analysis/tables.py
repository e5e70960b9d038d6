"""Text tables shared by the reports and the benchmark."""
from typing import Sequence


def format_table(header: Sequence[str], rows: Sequence[Sequence[object]],
                 markdown: bool = False) -> str:
    """Rows as a markdown table or as plain text: first column left-, the others right-aligned."""
    header = [str(cell) for cell in header]
    rows = [[str(cell) for cell in row] for row in rows]
    if markdown:
        lines = ['| ' + ' | '.join(header) + ' |',
                 '|' + '|'.join(['---'] + ['---:'] * (len(header) - 1)) + '|']
        lines += ['| ' + ' | '.join(row) + ' |' for row in rows]
        return '\n'.join(lines)
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]

    def line(cells):
        first = cells[0].ljust(widths[0])
        rest = [cell.rjust(width) for cell, width in zip(cells[1:], widths[1:])]
        return '  '.join([first] + rest).rstrip()
    return '\n'.join([line(header), '  '.join('-' * w for w in widths)] + [line(r) for r in rows])
