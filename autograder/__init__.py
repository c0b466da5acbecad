"""Instructor-only tools: release, run, grade and bundle the course. Not shipped to students."""
