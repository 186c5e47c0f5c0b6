"""Progress: a mentee's assigned task lists, the event chain of each (practice, ready, sign-off,
countersign, revoke), evidence photos, the task page and the timeline; customize.py turns a template into a
shop's own list and assigns it.

signoffs.py defines the replay of events into task states and what "achieved" means; everything else uses it.

May import: the kernel, any models, trail/, access/ and people/.
"""
