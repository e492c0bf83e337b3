# -*- coding: utf-8 -*-
# Copyright (c) llm_gateway developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils is private to the local_ai.llm_gateway collection
# and may change without notice. Do not use it from outside the collection.
"""The files and folders the stack and nginx roles write, as ``_files.stale_paths`` takes them (pure).

Each entry is ``{path, owner, group, mode}``, with ``state: directory`` for a folder and ``content`` for a file.
"""

from __future__ import annotations

import posixpath


def _folder(path, owner, mode):
    return {'path': path, 'state': 'directory', 'owner': str(owner), 'group': str(owner), 'mode': mode}


def _file(path, owner, mode, content):
    return {'path': path, 'owner': str(owner), 'group': str(owner), 'mode': mode, 'content': content}


def stack_wanted_files(root, env_dir, compose, n8n=None, data_secrets=(), data_uid=None):
    """What the stack role writes under ``root``.

    ``n8n`` is None for an attached n8n (the stack writes none of its files), else ``{uid, secret_files, env_file}``:
    the image's user, the secrets n8n reads from files (name -> value) and the env file of the others.
    ``data_secrets`` are Postgres' and Redis' files, each ``{folder, file, content}`` under ``env_dir``, owned by
    ``data_uid``.
    """
    wanted = [_folder(env_dir, 'root', '0700'),
              _file(posixpath.join(root, 'docker-compose.yml'), 'root', '0644', compose)]
    if n8n is not None:
        secrets = posixpath.join(env_dir, 'n8n-secrets')
        wanted.append(_folder(secrets, n8n['uid'], '0500'))
        wanted.extend(_file(posixpath.join(secrets, name), n8n['uid'], '0400', value)
                      for name, value in (n8n.get('secret_files') or {}).items())
        wanted.append(_file(posixpath.join(env_dir, 'n8n.env'), 'root', '0600', n8n['env_file']))
    for secret in data_secrets or ():
        folder = posixpath.join(env_dir, secret['folder'])
        wanted.append(_folder(folder, data_uid, '0500'))
        wanted.append(_file(posixpath.join(folder, secret['file']), data_uid, '0400', secret['content']))
    return wanted


def nginx_wanted_files(nginx_dir, files, contents, keys_file, keys):
    """What the nginx role writes under ``nginx_dir``: ``conf.d``, each of ``files`` (``{dest}``, relative) with its
    rendering in ``contents`` (same order), and the keys file (readable by root only)."""
    if len(files) != len(contents):
        raise ValueError('%d files but %d renderings' % (len(files), len(contents)))
    return ([_folder(posixpath.join(nginx_dir, 'conf.d'), 'root', '0755')]
            + [_file(posixpath.join(nginx_dir, item['dest']), 'root', '0644', content)
               for item, content in zip(files, contents)]
            + [_file(posixpath.join(nginx_dir, keys_file), 'root', '0600', keys)])
