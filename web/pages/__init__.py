"""HTML pages, one module per area (the same names as subsidy/'s packages): each handler parses the form, calls one
service and renders a template.
"""
