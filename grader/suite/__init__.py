"""The grading suite: what is checked for each contract function, and with which inputs."""
