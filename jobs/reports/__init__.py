"""Persona reports: screening a person against watchlists, PEP lists and adverse media."""
