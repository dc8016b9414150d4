"""The demo's SQL, by name: the writes of a simulated authentik broker and workers (broker.py) and
the scene a real installation would already have (seed.py). The console never runs these."""
