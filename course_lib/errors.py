"""The course's own errors: the library raises them, the `course` command turns them into messages."""


class CourseError(Exception):
    """Something the user can fix; the message says how."""


class DataError(CourseError):
    """A dataset is missing or damaged; the message names the command that fixes it."""
