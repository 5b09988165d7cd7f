"""`python -m granian`: the same as the `granian` command."""

from granian.cli import entrypoint

if __name__ == '__main__':
    entrypoint()
