"""``optigrade export-grades``: the class's grades as a CSV file Canvas or Moodle imports.

``roster`` reads the roster the LMS exported and matches submission folders to its students;
``export`` writes the import file.  Roster students without a submission get an empty cell (not
graded, never a zero); a submission with no roster entry is reported, never silently dropped.
"""
