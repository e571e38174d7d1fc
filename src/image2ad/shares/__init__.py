"""Share links: a public, expiring, revocable page for one result or one pack.

The link carries a random token; the `shares` table keeps only its SHA-256, looked up by an
indexed equality (so no comparison of secrets happens in Python). The public pages show the
results and nothing else of their owner.
"""
