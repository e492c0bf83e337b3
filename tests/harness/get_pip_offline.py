"""Stand-in for ansible-test's pip bootstrap script (get-pip.py), whose download
host is unreachable here. ansible-test runs it inside a fresh venv with pip's
arguments; this installs the pip that ships with Python (ensurepip), then lets
that pip install what was asked from the configured package index."""

import ensurepip
import os
import runpy
import sys

GET_PIP_ONLY = {'--no-setuptools', '--no-wheel'}

saved = dict(os.environ)
ensurepip.bootstrap(upgrade=True)  # it points PIP_CONFIG_FILE at /dev/null: undo that
os.environ.clear()
os.environ.update(saved)
sys.argv = ['pip', 'install', '--upgrade', '--force-reinstall'] + [a for a in sys.argv[1:] if a not in GET_PIP_ONLY]
runpy.run_module('pip', run_name='__main__', alter_sys=True)
