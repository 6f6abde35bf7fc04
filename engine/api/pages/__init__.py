"""The web console's pages: server-rendered HTML from templates/ (docs/console.md)."""
