"""What decides and moves the live model: the gate and its typed result, the risk gate, the
report, the override, the registry, the desired state in deploy/, registration, promotion,
deploy and reconcile.

It may import the pipeline and the GitHub adapters; never monitoring or project set-up.
"""
