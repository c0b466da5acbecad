"""The course's own errors: the library raises them, the `course` command turns them into messages."""


class CourseError(Exception):
    """Something the user can fix; the message says how."""
