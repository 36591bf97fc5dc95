"""seasons pages."""

controllers: list = []
