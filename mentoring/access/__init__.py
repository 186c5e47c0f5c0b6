"""Access: who may do what, and how people prove who they are.

policy.py is the one place that decides visibility and authority from memberships, enrollments and triads;
auth.py holds password and PIN checks with the one failed-attempt lockout; throttle.py counts failures per key;
apitokens.py and tablets.py are the two other ways in (bearer tokens, shared shop tablets); disclosure.py says
what strangers verifying a record may read.

May import: the kernel (clock, errors, lru), any subpackage's models, and trail/.
"""
