# -*- coding: utf-8 -*-
# Copyright (c) llm_gateway developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils is private to the local_ai.llm_gateway collection
# and may change without notice. Do not use it from outside the collection.
"""The one exception for an expected failure (bad input, a service refusing, a file that cannot be written).

Code under a module raises it; only the module's ``main`` turns it into ``fail_json``, with ``msg`` and ``result``
(the keys the failed result carries besides the message)."""

from __future__ import annotations


class Failure(Exception):

    def __init__(self, msg, **result):
        super(Failure, self).__init__(msg)
        self.msg = msg
        self.result = result

    def fail(self, module, **result):
        """End ``module`` with this failure; ``result`` (the run's result so far) first, this failure's keys over it."""
        merged = dict(result)
        merged.update(self.result)
        module.fail_json(msg=self.msg, **merged)
