# nbgrader reads this file from the current directory: run nbgrader (and `course`)
# from the course root. `course grade` writes its own copy into the grading workspace.
c = get_config()  # noqa: F821  (nbgrader provides get_config)

c.CourseDirectory.course_id = "keras-course"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "lessons"
# Lessons train small models; nbgrader's 30 s per cell is too short for them.
c.Execute.timeout = 600
