"""admin pages."""

controllers: list = []
