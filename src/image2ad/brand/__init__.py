"""The brand kit (logo, colours, font, default headline and CTA) and renditions: a finished
image with that brand layer composited on it, inside the placement's safe zone."""
