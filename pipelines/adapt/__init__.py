"""Adapters: data models plans already map their claims to, mapped into our landing contract.

One module per source model (tuva.py: the Tuva Project input layer). An adapter writes landing
files the nightly ingest then validates like any other; it never loads the warehouse itself.
"""
