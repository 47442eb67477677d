"""The project's one error family.

Every error the project raises on purpose (bad params, a bad contract or bad data, an
unreachable or refusing registry, a GitHub call that failed) is a ProjectError: the command
line catches this one base and prints its message as one line. Anything else is a bug and
keeps its traceback. It stays a ValueError so that callers that catch ValueError keep working.
"""


class ProjectError(ValueError):
    """A problem with the project's inputs or its servers, said in one line."""


class MissingInputError(ProjectError, FileNotFoundError):
    """A file a step needs is not there: the message says which, and what makes it."""


# Errors that end a command or a stage with one readable line instead of a traceback: the
# project's own and a file that is not there. Anything else is a bug and keeps its traceback.
EXPECTED_ERRORS = (ProjectError, FileNotFoundError)
