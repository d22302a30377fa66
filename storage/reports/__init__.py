"""The funder report's figures (rendering lives in templates/report/)."""
