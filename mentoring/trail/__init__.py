"""The audit trail: every change is an appended AuditEntry, and checkpoints sign the state of the chains.

The lowest subpackage: it imports only the kernel (clock, errors, lru) and models. `Actor` is named for
typing only, so that access/ can record what it does.
"""
