"""The directory tree the static file tests mount."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import brotli

HELLO = b'hello static\n'
TEN_K = os.urandom(10 * 1024)
BIG = os.urandom(5 * 1024 * 1024 + 123)
CSS = b'body { color: red }\n'
CSS_BR = brotli.compress(CSS)
CSS_GZ = gzip.compress(CSS, mtime=0)
JS = b'console.log(1)\n'
JS_GZ = gzip.compress(JS, mtime=0)
INDEX = b'<p>index</p>\n'
ROOT_INDEX = b'<p>root index</p>\n'
OTHER = b'from the second mount\n'
SECRET = b'secret outside the mount\n'
DOTENV = b'DATABASE_PASSWORD=hunter2\n'
GIT_CONFIG = b'[remote "origin"]\n'
SECURITY_TXT = b'Contact: mailto:security@example.org\n'


def build(root: Path) -> tuple[Path, Path]:
    """Write the tree under `root`; returns the two mount directories."""
    mount = root / 'mnt'
    other = root / 'other'
    (mount / 'sub').mkdir(parents=True)
    (mount / 'nodir').mkdir()
    other.mkdir()
    (root / 'outside').mkdir()
    (root / 'outside' / 'secret.txt').write_bytes(SECRET)
    (mount / 'hello.txt').write_bytes(HELLO)
    (mount / 'a b.txt').write_bytes(HELLO)
    (mount / '10k.bin').write_bytes(TEN_K)
    (mount / 'big.bin').write_bytes(BIG)
    (mount / 'empty.txt').write_bytes(b'')
    (mount / 'style.css').write_bytes(CSS)
    (mount / 'style.css.br').write_bytes(CSS_BR)
    (mount / 'style.css.gz').write_bytes(CSS_GZ)
    (mount / 'app.js').write_bytes(JS)
    (mount / 'app.js.gz').write_bytes(JS_GZ)
    (mount / 'index.html').write_bytes(ROOT_INDEX)
    (mount / 'sub' / 'index.html').write_bytes(INDEX)
    (mount / 'escape').symlink_to(root / 'outside' / 'secret.txt')
    (mount / 'escape-dir').symlink_to(root / 'outside', target_is_directory=True)
    (mount / 'inside').symlink_to(mount / 'hello.txt')
    (other / 'other.txt').write_bytes(OTHER)
    (mount / '.env').write_bytes(DOTENV)
    (mount / '.git').mkdir()
    (mount / '.git' / 'config').write_bytes(GIT_CONFIG)
    (mount / '.well-known').mkdir()
    (mount / '.well-known' / 'security.txt').write_bytes(SECURITY_TXT)
    return mount, other
