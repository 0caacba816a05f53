"""LMS exports: Moodle XML and Canvas QTI 1.2, each with the quiz's number rule in its own tolerance form."""
