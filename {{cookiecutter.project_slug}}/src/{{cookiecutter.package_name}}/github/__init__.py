"""GitHub and git adapters: the REST client, the Actions run context, what a step asks of the
repository, branches and pushes, CODEOWNERS.

It imports nothing of the model's domain (only the package's error type): the domain calls it.
"""
