"""Contracts: what a customer has agreed to at one property, revision by revision,
with the optional services offered there (the campaigns of ``portal.domains.campaigns``
start from those)."""
