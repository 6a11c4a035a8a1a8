"""The analyses, one module each (an `Analysis` subclass); `analysis.registry` lists them in report order."""
