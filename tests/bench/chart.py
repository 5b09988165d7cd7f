"""Draw ours against Granian from a run of the benchmark harness (`../shared/bench/run.py
--json out.json`): one bar per cell (interface x protocol x route), req/s of each server, with
the ratio printed over each pair.

    python tests/bench/chart.py out.json docs/benchmarks.png

Needs matplotlib (`pip install matplotlib`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt

INTERFACES = ('asgi', 'rsgi', 'wsgi')


def cells(summary: list[dict]) -> list[tuple[str, float, float]]:
    """(label, ours req/s, granian req/s) per cell measured for both."""
    rps = {(row['target'], row['proto'], row['route']): row.get('rps_median') for row in summary}
    out = []
    for proto in ('h1', 'h2'):
        for interface in INTERFACES:
            for route in dict.fromkeys(row['route'] for row in summary):
                ours = rps.get((f'ours-{interface}', proto, route))
                granian = rps.get((f'granian-{interface}', proto, route))
                if ours and granian:
                    out.append((f'{interface.upper()} {proto} {route}', ours, granian))
    return out


def draw(source: Path, target: Path) -> None:
    data = json.loads(source.read_text())
    rows = cells(data['summary'])
    if not rows:
        raise SystemExit(f'{source}: no cell measured for both ours and granian')
    fig, axis = plt.subplots(figsize=(max(8, 0.9 * len(rows)), 5))
    positions = range(len(rows))
    width = 0.4
    axis.bar([p - width / 2 for p in positions], [r[1] / 1000 for r in rows], width, label='granian (this project)')
    axis.bar([p + width / 2 for p in positions], [r[2] / 1000 for r in rows], width, label='Granian 2.8.7')
    for position, (_, ours, granian) in zip(positions, rows, strict=True):
        axis.annotate(
            f'{ours / granian:.2f}x', (position, max(ours, granian) / 1000), ha='center', va='bottom', fontsize=8
        )
    axis.set_xticks(list(positions), [r[0] for r in rows], rotation=45, ha='right')
    axis.set_ylabel('thousand requests per second')
    started = data.get('meta', {}).get('started', '')
    axis.set_title(f'One worker, one runtime thread; server on core 0, load on core 1 ({started})')
    axis.legend()
    fig.tight_layout()
    fig.savefig(target, dpi=110)


if __name__ == '__main__':
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    draw(Path(sys.argv[1]), Path(sys.argv[2]))
