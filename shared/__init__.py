"""All gateway logic; the function folders are thin adapters over this package."""
