"""HTTP only: the Litestar app, HTML pages and the JSON API. Handlers parse, call one service, render."""
