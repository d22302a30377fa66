"""The funder report as PDF (HTML and SVG charts through WeasyPrint), CSV and xlsx."""
