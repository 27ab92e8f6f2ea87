"""Persona's signed webhooks: the signature check and what each event changes in the pipeline."""
