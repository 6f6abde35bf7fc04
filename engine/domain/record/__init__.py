"""Pure rules of the unified health record: fact identity, reference rewriting, per-field precedence, summaries."""
