"""Oversight: what managers and instructors look at: the dashboard, flags, reviews, pay plans and tools,
the inbox and its digest, and the instructor's views.

May import: the kernel, any models, trail/, access/, people/ and progress/.
"""
