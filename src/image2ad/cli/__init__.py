from image2ad.cli.main import app, main

__all__ = ["app", "main"]
