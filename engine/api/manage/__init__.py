"""The management API under /api/v1 (docs/console.md): one Part per area."""
