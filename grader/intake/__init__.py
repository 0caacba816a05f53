"""Reading submissions in: LMS folders, zips and loose files (``staging``), and notebooks (``notebook``).

Nothing here runs student code.  ``staging`` copies the expected files byte for byte into private
boxes; a submitted ``.ipynb`` is turned into those files by parsing its code cells (``notebook``), in a
short-lived, resource-limited child process so that a hostile notebook cannot take the class run down.
"""
