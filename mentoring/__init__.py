"""The mentoring domain: people, access, progress and oversight, without any web framework.

The kernel modules here (clock, errors, lru, mail, words) import nothing of the subpackages; demo.py seeds a demo
from all of them. The subpackages import one way: trail <- access <- people <- progress <- oversight, and any of
them may import any subpackage's models (tests/test_architecture.py holds this).
"""
