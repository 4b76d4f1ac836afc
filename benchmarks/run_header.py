"""The first lines of every benchmark's output: the command that ran and the machine it ran on."""

import os
import re
import shlex
import sys
from pathlib import Path

import torch


def machine(*versions: str) -> str:
    """CPU model, cores, torch threads, GPU name, the torch version and any other ``versions`` given."""
    cpu = 'unknown CPU'
    if Path('/proc/cpuinfo').exists():
        names = re.findall(r'^model name\s*:\s*(.+)$', Path('/proc/cpuinfo').read_text(), re.M)
        cpu = names[0] if names else cpu
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else 'none'
    return ', '.join(
        (
            f'CPU: {cpu}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads; GPU: {gpu}; '
            f'torch {torch.__version__}',
            *versions,
        )
    )


def print_run_header(argv: list[str] | None, *versions: str) -> None:
    """Print ``command: python SCRIPT ARGS`` and ``machine: ...`` (see :func:`machine`)."""
    print('command: python ' + ' '.join(shlex.quote(a) for a in [sys.argv[0], *(argv or sys.argv[1:])]))
    print(f'machine: {machine(*versions)}')
