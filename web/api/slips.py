"""slips api: see the issue for this area."""

controllers: list = []
