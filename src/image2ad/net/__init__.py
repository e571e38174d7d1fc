"""Outbound HTTP to URLs we did not choose: allowlisted, address-checked, pinned and capped."""
