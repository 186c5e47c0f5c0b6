"""People: organizations, accounts, memberships, invitations, triads, school enrollments and rosters.

May import: the kernel, any models, trail/ and access/.
"""
