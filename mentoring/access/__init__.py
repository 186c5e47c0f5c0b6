"""Access: who may do what, and how people prove who they are.

policy.py is the one place that decides visibility and authority from memberships, enrollments and triads;
auth.py holds password and PIN checks, each through the one failed-attempt lockout in lockout.py; throttle.py
counts failures and request budgets per key;
apitokens.py and tablets.py are the two other ways in (bearer tokens, shared shop tablets); disclosure.py says
what strangers verifying a record may read.

May import: the kernel (clock, errors, lru), any subpackage's models, and trail/.
"""
