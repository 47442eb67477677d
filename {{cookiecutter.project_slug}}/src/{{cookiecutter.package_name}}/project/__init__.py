"""Setting a project up and keeping it current: bringing your own data, drafting the contract,
GitHub and MLflow set-up, template updates.

It may import every other part; nothing imports it but the command line.
"""
