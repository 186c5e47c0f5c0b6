from tasklists.clock import utcnow

__all__ = ["utcnow"]
