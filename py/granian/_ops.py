"""What the master does for operators around serving: the listening socket (TCP, Unix, an
inherited descriptor or systemd's), the pid file, the process title and environment files.

None of it imports the native module. ctypes (for prctl) and tempfile (for the pid file) are
imported when used: a master that needs neither does not load them, nor the modules they import.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import socket
import stat
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    'SYSTEMD_FIRST_FD',
    'BoundSocket',
    'EnvFileError',
    'ProcInfoCollector',
    'die_with_parent',
    'load_env_files',
    'parse_env_file',
    'pid_running',
    'read_pid_file',
    'remove_pid_file',
    'rss_bytes',
    'set_process_title',
    'socket_from_fd',
    'systemd_fd',
    'unix_socket',
    'write_pid_file',
]

# sd_listen_fds(3): passed descriptors start at 3 (SD_LISTEN_FDS_START).
SYSTEMD_FIRST_FD = 3


@dataclass
class BoundSocket:
    """The master's listening socket, what to call it in the log, and the Unix socket file to
    remove on exit (only for a socket the master created itself)."""

    sock: socket.socket
    where: str
    unix_path: Path | None = None
    unix_inode: int | None = None

    def close(self) -> None:
        self.sock.close()
        if self.unix_path is None:
            return
        # Remove the file only while it is still the socket bound here: another server may
        # have replaced it since.
        with contextlib.suppress(OSError):
            if os.stat(self.unix_path).st_ino == self.unix_inode:
                os.unlink(self.unix_path)


def _describe(sock: socket.socket, scheme: str) -> str:
    if sock.family == socket.AF_UNIX:
        name = sock.getsockname()
        path = name.decode(errors='replace') if isinstance(name, bytes) else name
        return f'unix:{path}'
    host, port = sock.getsockname()[:2]
    return f'{scheme}://[{host}]:{port}' if ':' in host else f'{scheme}://{host}:{port}'


def unix_socket(path: Path, backlog: int, permissions: int | None, scheme: str) -> BoundSocket:
    """Bind and listen on a Unix socket at `path`, replacing a stale socket file left there by a
    previous run (any other kind of file is an error)."""
    with contextlib.suppress(FileNotFoundError):
        if not stat.S_ISSOCK(os.lstat(path).st_mode):
            raise OSError(f'{path} exists and is not a socket')
        os.unlink(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(str(path))
        if permissions is not None:
            os.chmod(path, permissions)
        sock.listen(backlog)
        sock.setblocking(False)
        inode = os.stat(path).st_ino
    except BaseException:
        sock.close()
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise
    return BoundSocket(sock, _describe(sock, scheme), unix_path=path, unix_inode=inode)


def socket_from_fd(fd: int, scheme: str) -> BoundSocket:
    """Adopt an inherited listening socket (TCP or Unix). The caller must not use `fd` itself
    afterwards: the returned socket owns it."""
    try:
        sock = socket.socket(fileno=fd)
    except OSError as exc:
        raise OSError(f'file descriptor {fd} is not a socket ({exc.strerror or exc})') from None
    try:
        if sock.type != socket.SOCK_STREAM or not sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
            raise OSError(f'file descriptor {fd} is not a listening stream socket')
        sock.setblocking(False)
        return BoundSocket(sock, _describe(sock, scheme))
    except BaseException:
        sock.detach()
        raise


def systemd_fd() -> int | None:
    """The socket systemd passed to this process (socket activation, sd_listen_fds(3)), if any.

    Only the first socket is used. The variables are removed, so that children (the workers,
    and anything the application starts) do not take them as theirs.
    """
    pid = os.environ.get('LISTEN_PID')
    count = os.environ.get('LISTEN_FDS')
    if pid is None or count is None:
        return None
    for name in ('LISTEN_PID', 'LISTEN_FDS', 'LISTEN_FDNAMES'):
        os.environ.pop(name, None)
    if not pid.isdigit() or int(pid) != os.getpid() or not count.isdigit() or int(count) < 1:
        return None
    return SYSTEMD_FIRST_FD


# Open flags for a pid file: never through a symbolic link, never blocking on a FIFO.
_NOFOLLOW = getattr(os, 'O_NOFOLLOW', 0) | getattr(os, 'O_NONBLOCK', 0) | getattr(os, 'O_CLOEXEC', 0)
# More than any PID in decimal: a pid file larger than this holds something else.
_PID_FILE_MAX = 64


def _read_no_follow(path: Path) -> str:
    """The text of the regular file at `path`, opened without following a symbolic link there
    (`OSError` "is a symbolic link", or "is not a regular file", rather than reading elsewhere)."""
    try:
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise OSError(exc.errno, 'it is a symbolic link') from None
        raise
    with os.fdopen(fd, 'rb') as file:
        if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
            raise OSError(errno.EINVAL, 'it is not a regular file')
        return file.read(_PID_FILE_MAX + 1).decode('ascii', errors='replace')


def read_pid_file(path: Path) -> int | None:
    """The PID in the pid file at `path`, None when there is no such file. Raises `ValueError`
    when the file holds anything but a PID, `OSError` when it cannot be read or is a symbolic
    link (never followed: it could point at any file)."""
    try:
        text = _read_no_follow(path)
    except FileNotFoundError:
        return None
    pid = int(text.strip())
    if pid <= 0:
        raise ValueError(f'{pid} is not a PID')
    return pid


def pid_running(pid: int) -> bool:
    """Whether a process with this PID exists (signal 0 checks without sending anything; a
    process of another user answers with EPERM, and exists)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def write_pid_file(path: Path) -> None:
    """Write this process's PID to `path`, replacing the file atomically.

    The PID goes to a new file of an unpredictable name next to `path`, created exclusively
    (`mkstemp`: `O_CREAT | O_EXCL`, so never through a link planted there), then renamed over
    `path`: a rename replaces a symbolic link at `path` rather than writing where it points, and
    readers never see a partial file.
    """
    import tempfile

    fd, temporary = tempfile.mkstemp(prefix=f'.{path.name}.', dir=path.parent)
    try:
        with os.fdopen(fd, 'w') as file:
            file.write(f'{os.getpid()}\n')
            # As a pid file is usually made: readable by all, written by its owner.
            os.fchmod(file.fileno(), 0o644)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def remove_pid_file(path: Path) -> None:
    """Remove `path` if it still holds this process's PID."""
    with contextlib.suppress(OSError, ValueError):
        if int(_read_no_follow(path).strip()) == os.getpid():
            path.unlink()


def rss_bytes(pid: int) -> int | None:
    """A process's resident set size in bytes, from /proc/PID/statm (None when it cannot be read:
    the process is gone, or this is not Linux)."""
    try:
        fields = Path(f'/proc/{pid}/statm').read_text().split()
        return int(fields[1]) * os.sysconf('SC_PAGE_SIZE')
    except (OSError, IndexError, ValueError):
        return None


class ProcInfoCollector:
    """Resident memory of processes, as Granian's `ProcInfoCollector` gives it: `memory(pids)`
    maps each PID whose memory could be read to its resident set size in bytes; without `pids`,
    this process's."""

    def memory(self, pids: Iterable[int] | None = None) -> dict[int, int]:
        wanted = [os.getpid()] if pids is None else list(pids)
        found = {}
        for pid in wanted:
            rss = rss_bytes(pid)
            if rss is not None:
                found[pid] = rss
        return found


_PR_SET_PDEATHSIG = 1
_PR_SET_NAME = 15


def _prctl(option: int, argument: int | bytes) -> bool:
    """prctl(2) on Linux, with an integer or a string argument; False where it is missing or
    refused."""
    import ctypes

    try:
        # The C library's symbols, as the process has them (dlopen(NULL)).
        libc = ctypes.CDLL(None, use_errno=True)
        value = ctypes.c_char_p(argument) if isinstance(argument, bytes) else ctypes.c_ulong(argument)
        return int(libc.prctl(option, value, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def die_with_parent(signum: int) -> bool:
    """Have the kernel send `signum` to this process when its parent (the thread that forked it)
    exits (Linux `PR_SET_PDEATHSIG`); False where that is not available."""
    return _prctl(_PR_SET_PDEATHSIG, signum)


def set_process_title(title: str) -> None:
    """Name this process: with `setproctitle` when installed (granian[pname]), the title `ps`
    shows; otherwise, on Linux, the kernel's name of the calling thread (what `top`, `ps -o comm`
    and `/proc/PID/comm` show, cut to 15 bytes)."""
    try:
        import setproctitle  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        pass
    else:
        setproctitle.setproctitle(title)
        return
    _prctl(_PR_SET_NAME, title.encode()[:15])


class EnvFileError(ValueError):
    """A line of an environment file that is not `KEY=VALUE`, a comment or blank."""


_KEY = re.compile(r'[A-Za-z_][A-Za-z0-9_]*')
_ESCAPES = {'n': '\n', 't': '\t', 'r': '\r', '"': '"', '\\': '\\', '$': '$'}


def _unquote(value: str, path: Path, number: int) -> str:
    if value[:1] in ('"', "'"):
        quote = value[0]
        end = 1
        while end < len(value) and value[end] != quote:
            # Inside double quotes a backslash escapes the next character, a quote included.
            end += 2 if quote == '"' and value[end] == '\\' else 1
        if end >= len(value):
            raise EnvFileError(f'{path}:{number}: unterminated quote')
        rest = value[end + 1 :].strip()
        if rest and not rest.startswith('#'):
            raise EnvFileError(f'{path}:{number}: text after the closing quote')
        inner = value[1:end]
        if quote == "'":
            return inner
        return re.sub(r'\\(.)', lambda m: _ESCAPES.get(m.group(1), '\\' + m.group(1)), inner)
    # Unquoted: a ` #` starts a comment; surrounding blanks go.
    return re.split(r'\s#', value, maxsplit=1)[0].strip()


def parse_env_file(path: Path) -> dict[str, str]:
    """`KEY=VALUE` lines (the dotenv format): blank lines and `#` comments are skipped, an
    `export ` prefix is allowed, values may be single-quoted (literal) or double-quoted (with
    backslash escapes), and an unquoted value ends at ` #`. No variable expansion."""
    values: dict[str, str] = {}
    for number, raw in enumerate(path.read_text(encoding='utf-8').splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith('#'):
            continue
        if line.startswith('export '):
            line = line[len('export ') :].lstrip()
        key, sep, value = line.partition('=')
        key = key.strip()
        if not sep or not _KEY.fullmatch(key):
            raise EnvFileError(f'{path}:{number}: expected KEY=VALUE')
        values[key] = _unquote(value.strip(), path, number)
    return values


def load_env_files(paths: Iterable[Path], keep: Collection[str] | None = None) -> dict[str, str]:
    """Read the files in order (a later file wins over an earlier one) and set each variable,
    except those named in `keep` (by default, those already in the environment), which keep
    precedence. Returns what was set."""
    protected = os.environ.keys() if keep is None else keep
    merged: dict[str, str] = {}
    for path in paths:
        merged.update(parse_env_file(path))
    loaded = {key: value for key, value in merged.items() if key not in protected}
    os.environ.update(loaded)
    return loaded
