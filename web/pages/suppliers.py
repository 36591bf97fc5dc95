"""suppliers pages: see the issue for this area."""

controllers: list = []
